"""Property-based fuzz (hypothesis): any input gets its documented answer, never a 5xx or a crash.

Three surfaces: the client-frame decoder, the consumer (frames in, frames or a pinned close code out),
and every HTTP endpoint under /notifications/. Examples are few (two shared cores) and derandomized:
the `notifications` hypothesis profile in tests/conftest.py.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from notifications import notify, protocol
from notifications.testing import connect
from project.asgi import application
from tests.conftest import make_user

MAX_IDS = 500
ERROR_CODES = {
    protocol.INVALID_JSON,
    protocol.BINARY_NOT_SUPPORTED,
    protocol.UNKNOWN_TYPE,
    protocol.INVALID,
    protocol.NOT_FOUND,
    protocol.RATE_LIMITED,
}
CLOSE_CODES = {protocol.CLOSE_TOO_BIG, protocol.CLOSE_TOO_MANY_FRAMES}
SERVER_TYPES = {
    protocol.READ,
    protocol.UNREAD,
    protocol.DELETED,
    protocol.NOTIFICATION,
    protocol.ERROR,
    protocol.PONG,
}

# JSON values, nested a little, with the integers around the limits the decoder checks.
numbers = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([0, 1, -1, 2**63 - 1, 2**63, True, False]),
    st.floats(allow_nan=False),
)
scalars = st.one_of(st.none(), numbers, st.text(max_size=20))
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
client_types = st.sampled_from([*sorted(protocol.CLIENT_TYPES), "", "Ping", "welcome"])
# Objects shaped like client frames: a known type (mostly) with fields of any shape.
frame_objects = st.fixed_dictionaries(
    {"type": client_types},
    optional={
        "ids": st.one_of(json_values, st.lists(numbers, max_size=MAX_IDS + 2)),
        "since": json_values,
    },
)
frame_texts = st.one_of(
    frame_objects.map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=200),
    st.sampled_from(["[" * 5000, '{"a":' * 3000, "\ud800", '{"type": "ping"}' * 2]),
)


@given(text=frame_texts)
def test_the_decoder_answers_a_command_or_a_documented_error(text: str) -> None:
    try:
        command = protocol.decode_client_frame(text, max_ids=MAX_IDS)
    except protocol.ProtocolError as exc:
        assert exc.code in {protocol.INVALID_JSON, protocol.UNKNOWN_TYPE, protocol.INVALID}
        assert exc.message
        return
    assert command.type in protocol.CLIENT_TYPES
    assert len(command.ids) == len(set(command.ids)) <= MAX_IDS
    assert all(type(i) is int and 0 < i < 2**63 for i in command.ids)
    assert (command.type in {protocol.MARK_READ, protocol.DELETE}) == bool(command.ids)
    assert 0 <= command.since < 2**63


@pytest.fixture
def fuzz_user(transactional_db: None, settings: Any) -> Any:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    user = make_user("fuzz")
    notify(user, "one")
    notify(user, "two")
    return user


async def answers_until_pong(
    socket: WebsocketCommunicator,
) -> tuple[list[dict[str, Any]], int | None]:
    """Frames up to the pong that answers our ping, or the close code if the socket closed."""
    frames: list[dict[str, Any]] = []
    while True:
        output = await socket.receive_output(timeout=3)
        if output["type"] == "websocket.close":
            return frames, int(output.get("code", 1000))
        frame = json.loads(output["text"])
        if frame["type"] == protocol.PONG:
            return frames, None
        frames.append(frame)


@given(
    sent=st.lists(
        st.one_of(
            frame_texts,
            st.binary(max_size=64),
            st.sampled_from(["x" * (16 * 1024 + 1), "\u00e9" * 9000]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_the_consumer_answers_every_frame_as_documented(fuzz_user: Any, sent: list[Any]) -> None:
    async def run() -> None:
        socket, welcome = await connect(application, fuzz_user, origin="http://testserver")
        assert welcome["type"] == protocol.WELCOME
        try:
            for item in sent:
                # send_input: send_to refuses empty frames, which clients may send.
                key = "bytes" if isinstance(item, bytes) else "text"
                await socket.send_input({"type": "websocket.receive", key: item})
                # A ping after each frame: everything before its pong answers the frame.
                await socket.send_to(text_data=json.dumps({"type": protocol.PING}))
                frames, closed = await answers_until_pong(socket)
                for frame in frames:
                    assert frame["type"] in SERVER_TYPES, frame
                    if frame["type"] == protocol.ERROR:
                        assert frame["code"] in ERROR_CODES and frame["message"], frame
                if closed is not None:
                    assert closed in CLOSE_CODES
                    return
        finally:
            await socket.disconnect()

    async_to_sync(run)()


# django-notifications-hq's JSON endpoints (views/hq.py).
HQ_API = [
    "/notifications/api/unread_count/",
    "/notifications/api/all_count/",
    "/notifications/api/unread_list/",
    "/notifications/api/all_list/",
]
PAGES = [
    "/notifications/api/",
    "/notifications/api/unread-count/",
    "/notifications/api/mark-read/",
    "/notifications/api/mark-all-read/",
    "/notifications/api/delete/",
    "/notifications/api/no-such-endpoint/",
    "/notifications/",
    "/notifications/mark-read/",
    "/notifications/mark-all-read/",
    "/notifications/delete/",
    "/notifications/api/preferences/",
    "/notifications/preferences/",
    "/notifications/unsubscribe/not-a-token/",
    # django-notifications-hq's URLs (views/hq.py).
    "/notifications/unread/",
    "/notifications/mark-all-as-read/",
    "/notifications/mark-as-read/1/",
    "/notifications/mark-as-unread/1/",
    "/notifications/delete/1/",
    *HQ_API,
]
query_values = st.one_of(
    st.text(max_size=12), st.integers(min_value=-5, max_value=2**70).map(str), st.just("")
)
queries = st.dictionaries(
    st.sampled_from(["limit", "before", "after", "unread", "filter", "ids", "next", "x"]),
    query_values,
    max_size=4,
)
bodies = st.one_of(
    st.builds(lambda v: ("application/json", json.dumps(v)), json_values),
    st.builds(
        lambda ids: ("application/json", json.dumps({"ids": ids})),
        st.lists(numbers | st.text(max_size=4), max_size=5),
    ),
    st.builds(
        lambda fields: ("application/x-www-form-urlencoded", fields),
        st.dictionaries(st.sampled_from(["ids", "next", "x"]), query_values, max_size=3).map(
            urlencode
        ),
    ),
    st.tuples(st.sampled_from(["text/plain", "application/json"]), st.text(max_size=40)),
)


@given(
    path=st.sampled_from(PAGES),
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]),
    query=queries,
    body=bodies,
    signed_in=st.booleans(),
)
def test_every_http_endpoint_answers_without_a_5xx(
    fuzz_user: Any,
    path: str,
    method: str,
    query: dict[str, str],
    body: tuple[str, str],
    signed_in: bool,
) -> None:
    client = Client()
    if signed_in:
        client.force_login(fuzz_user)
    content_type, data = body
    response = client.generic(
        method,
        path,
        data=data.encode("utf-8", "surrogatepass"),
        content_type=content_type,
        QUERY_STRING=urlencode(query),
    )
    assert response.status_code < 500, (response.status_code, response.content[:300])
    # hq's endpoints answer as hq does (an HTML 405 to a POST): only our API is JSON throughout.
    if path.startswith("/notifications/api/") and path not in HQ_API:
        assert response["Content-Type"] == "application/json", response.content[:300]
        if response.status_code >= 400 and method != "HEAD":  # HEAD: headers only
            assert response.json()["error"]["message"]
