"""The WebSocket consumer, driven in-process with WebsocketCommunicator through project.asgi.

Tests that deliver through the channel layer run on both layers (`any_layer`): in-memory and
channels-redis on the real Redis. Notifications are created with `anotify`, as a view under a
server would: the after-commit push then runs on this test's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from notifications import anotify, delivery, notify, protocol, sessions, signin, transport
from notifications.api import amark_read
from notifications.consumers import CANCEL_GRACE, LAYER_RETRY_DELAY, NotificationConsumer
from notifications.models import Notification
from notifications.testing import connect, receive_frame
from project.asgi import application
from tests.conftest import make_user

pytestmark = [pytest.mark.django_db(transaction=True)]

ORIGIN = "http://testserver"
PATH = "/ws/notifications/"

Open = Callable[..., Awaitable[tuple[WebsocketCommunicator, dict[str, Any]]]]


@pytest.fixture
def memory_layer(settings: Any) -> str:
    """A fresh in-memory layer for tests whose subject is not the layer."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return "memory"


@pytest.fixture
async def sockets() -> AsyncIterator[Open]:
    """``await sockets(user, since=None)`` opens a consumer as `user`; all are closed afterwards."""
    opened: list[WebsocketCommunicator] = []

    async def open_socket(user: Any, since: Any = None) -> tuple[WebsocketCommunicator, dict]:
        path = PATH if since is None else f"{PATH}?since={since}"
        communicator, welcome = await connect(application, user, path=path, origin=ORIGIN)
        opened.append(communicator)
        return communicator, welcome

    yield open_socket

    async def close(communicator: WebsocketCommunicator) -> None:
        # A communicator whose receive timed out has had its application cancelled already.
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await communicator.disconnect()

    await asyncio.gather(*(close(c) for c in opened))


async def auser(username: str) -> Any:
    return await sync_to_async(make_user)(username)


async def session_cookie(user: Any) -> bytes:
    """A real session for `user`, as the login view would create it."""

    def login() -> str:
        client = Client()
        client.force_login(user)
        return str(client.cookies["sessionid"].value)

    return f"sessionid={await sync_to_async(login)()}".encode()


async def frames(communicator: WebsocketCommunicator, count: int) -> list[dict[str, Any]]:
    return [await receive_frame(communicator, wait=3) for _ in range(count)]


def seqs(received: list[dict[str, Any]]) -> list[int]:
    assert all(f["type"] == "notification" for f in received), received
    return [f["notification"]["seq"] for f in received]


async def silent(communicator: WebsocketCommunicator) -> bool:
    return bool(await communicator.receive_nothing(timeout=0.3))


async def send_json(communicator: WebsocketCommunicator, value: Any) -> None:
    await communicator.send_to(text_data=json.dumps(value))


async def closed_with(communicator: WebsocketCommunicator, timeout: float = 2) -> int:
    """Skip frames until the server closes the socket; return the close code."""
    while True:
        output = await communicator.receive_output(timeout)
        if output["type"] == "websocket.close":
            return int(output.get("code", 1000))


async def create_notifications(user: Any, count: int, **fields: Any) -> list[Notification]:
    """`count` notifications for `user`, one notify() each."""
    created: list[Notification] = []
    for i in range(count):
        created += await anotify(user, "created", title=f"n{i + 1}", **fields)
    return created


# Who may connect.


async def test_anonymous_is_refused() -> None:
    communicator = WebsocketCommunicator(application, PATH, headers=[(b"origin", ORIGIN.encode())])
    connected, _ = await communicator.connect()
    assert not connected


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [(ORIGIN, True), ("http://evil.example", False), ("https://testserver.evil.example", False)],
)
async def test_origin_must_be_an_allowed_host(
    memory_layer: str, origin: str, accepted: bool
) -> None:
    cookie = await session_cookie(await auser("alice"))
    communicator = WebsocketCommunicator(
        application, PATH, headers=[(b"origin", origin.encode()), (b"cookie", cookie)]
    )
    connected, _ = await communicator.connect()
    try:
        assert connected is accepted
    finally:
        await communicator.disconnect()


async def test_missing_origin_is_refused(memory_layer: str) -> None:
    cookie = await session_cookie(await auser("alice"))
    communicator = WebsocketCommunicator(application, PATH, headers=[(b"cookie", cookie)])
    connected, _ = await communicator.connect()
    assert not connected


async def test_welcome_carries_exact_unread_count_and_last_seq(memory_layer: str) -> None:
    alice = await auser("alice")
    created = await create_notifications(alice, 3)
    await amark_read(alice, [created[1].pk])
    cookie = await session_cookie(alice)  # through the real session, as a browser connects
    communicator = WebsocketCommunicator(
        application, PATH, headers=[(b"origin", ORIGIN.encode()), (b"cookie", cookie)]
    )
    connected, _ = await communicator.connect()
    assert connected
    assert await receive_frame(communicator) == {
        "type": "welcome",
        "unread_count": 2,
        "unseen_count": 2,
        "last_seq": 3,
    }
    assert await silent(communicator)  # no catch-up without ?since
    await communicator.disconnect()


# Live delivery.


async def test_notification_reaches_every_socket_of_its_recipient_and_no_one_else(
    any_layer: str, sockets: Open
) -> None:
    alice, bob = await auser("alice"), await auser("bob")
    (a1, _), (a2, _), (b1, _) = await sockets(alice), await sockets(alice), await sockets(bob)
    [created] = await anotify(alice, "commented", title="Hi", url="/p/1/", data={"k": [1]})
    for communicator in (a1, a2):
        frame = await receive_frame(communicator)
        assert frame["type"] == "notification"
        assert frame["notification"]["id"] == created.pk
        assert frame["notification"]["seq"] == 1
        assert frame["notification"]["data"] == {"k": [1]}
        assert await silent(communicator)
    assert await silent(b1)


async def test_a_push_with_a_seq_gap_is_filled_from_the_database(
    any_layer: str, sockets: Open, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await auser("alice")
    socket, _ = await sockets(alice)
    monkeypatch.setattr(delivery, "send", lambda messages: None)  # the layer "drops" every push
    created = await create_notifications(alice, 3)
    group = protocol.user_group(alice.pk)
    third = protocol.push_message(3, protocol.notification_frame(created[2]))
    await delivery.send_async([(group, third)])
    assert seqs(await frames(socket, 3)) == [1, 2, 3]
    # Late or repeated pushes of what was already sent are dropped.
    second = protocol.push_message(2, protocol.notification_frame(created[1]))
    await delivery.send_async([(group, second), (group, third)])
    assert await silent(socket)


async def test_notifications_created_while_sockets_connect_arrive_exactly_once_in_order(
    any_layer: str, sockets: Open, settings: Any
) -> None:
    # A notify() takes well under a millisecond: the creator must still be running while the 8
    # sockets connect, so it may make many, and each socket must still get a replay, not a reset.
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "CATCH_UP_LIMIT": 2000}
    alice = await auser("alice")
    await create_notifications(alice, 3)
    since, most = 2, 1500  # stays under CATCH_UP_LIMIT
    made = 0
    stop = threading.Event()

    def create_until_stopped() -> None:
        # Its own thread and database connection: commits race the consumers' connect for real.
        nonlocal made
        try:
            while not stop.is_set() and made < most:
                notify(alice, "raced", title=f"r{made}")
                made += 1
        finally:
            connections.close_all()

    creator = asyncio.create_task(sync_to_async(create_until_stopped, thread_sensitive=False)())
    while made == 0 and not creator.done():
        await asyncio.sleep(0.001)  # the creator is committing: start connecting
    opened = [await sockets(alice, since=since) for _ in range(8)]
    stop.set()
    await creator
    last = 3 + made
    mid_stream = [w["last_seq"] for _, w in opened if 3 < w["last_seq"] < last]
    assert len(mid_stream) >= 2, f"sockets did not connect during the creation: {opened}"
    for socket, _ in opened:
        received: list[int] = []
        while not received or received[-1] < last:
            received += seqs([await receive_frame(socket, wait=5)])
        assert received == list(range(since + 1, last + 1))
        assert await silent(socket)


# Catch-up.


@pytest.mark.parametrize(
    ("since", "limit", "expected"),
    [
        (2, 200, [3, 4, 5]),
        (0, 200, [1, 2, 3, 4, 5]),
        (5, 200, []),
        (2, 3, [3, 4, 5]),  # exactly the cap
        (1, 3, "reset"),  # one past the cap
        (9, 200, "reset"),  # ahead of the server: a different database, or a reset inbox
    ],
)
async def test_catch_up_since_replays_in_order_up_to_the_cap(
    memory_layer: str, sockets: Open, settings: Any, since: int, limit: int, expected: Any
) -> None:
    settings.NOTIFICATIONS = {"CATCH_UP_LIMIT": limit}
    alice = await auser("alice")
    await create_notifications(alice, 5)
    socket, welcome = await sockets(alice, since=since)
    assert welcome == {"type": "welcome", "unread_count": 5, "unseen_count": 5, "last_seq": 5}
    if expected == "reset":
        assert await receive_frame(socket) == {
            "type": "reset",
            "unread_count": 5,
            "unseen_count": 5,
            "last_seq": 5,
        }
    else:
        assert seqs(await frames(socket, len(expected))) == expected
    assert await silent(socket)


async def test_sync_replays_what_follows_since(memory_layer: str, sockets: Open) -> None:
    alice = await auser("alice")
    await create_notifications(alice, 5)
    socket, _ = await sockets(alice)
    await send_json(socket, {"type": "sync", "since": 3})
    assert seqs(await frames(socket, 2)) == [4, 5]
    await send_json(socket, {"type": "sync", "since": 0})
    assert seqs(await frames(socket, 5)) == [1, 2, 3, 4, 5]
    assert await silent(socket)


async def test_live_push_after_sync_is_not_repeated(memory_layer: str, sockets: Open) -> None:
    alice = await auser("alice")
    await create_notifications(alice, 2)
    socket, _ = await sockets(alice)
    await send_json(socket, {"type": "sync", "since": 0})
    assert seqs(await frames(socket, 2)) == [1, 2]
    await anotify(alice, "after")
    assert seqs(await frames(socket, 1)) == [3]
    assert await silent(socket)


@pytest.mark.parametrize("raw", ["abc", "-1", "1.5", "%C2%B2", "99999999999999999999"])
async def test_invalid_since_gets_an_error_after_the_welcome(
    memory_layer: str, sockets: Open, raw: str
) -> None:
    alice = await auser("alice")
    await create_notifications(alice, 2)
    socket, welcome = await sockets(alice, since=raw)  # asserts the first frame is `welcome`
    assert welcome["last_seq"] == 2
    error = await receive_frame(socket)
    assert (error["type"], error["code"]) == ("error", "invalid_since")
    assert await silent(socket)  # treated as no cursor: no replay
    await send_json(socket, {"type": "ping"})
    assert await receive_frame(socket) == {"type": "pong"}


# Client commands.


async def test_mark_read_goes_to_every_socket_of_the_user_with_the_exact_count(
    any_layer: str, sockets: Open
) -> None:
    alice, bob = await auser("alice"), await auser("bob")
    n1, _n2, n3 = await create_notifications(alice, 3)
    (a1, _), (a2, _), (b1, _) = await sockets(alice), await sockets(alice), await sockets(bob)
    await send_json(a1, {"type": "mark_read", "ids": [n1.pk, n3.pk]})
    expected = {"type": "read", "ids": [n1.pk, n3.pk], "unread_count": 1, "unseen_count": 1}
    assert await receive_frame(a1) == expected
    assert await receive_frame(a2) == expected
    assert await silent(b1)
    assert await sync_to_async(unread)(alice) == 1


async def test_mark_all_read_sends_every_id_that_changed(any_layer: str, sockets: Open) -> None:
    alice = await auser("alice")
    n1, n2, n3 = await create_notifications(alice, 3)
    await amark_read(alice, [n2.pk])
    assert await sync_to_async(delivery.flush)()  # its `read` frame is gone before the sockets open
    (a1, _), (a2, _) = await sockets(alice), await sockets(alice)
    await send_json(a2, {"type": "mark_all_read"})
    expected = {"type": "read", "ids": [n1.pk, n3.pk], "unread_count": 0, "unseen_count": 0}
    assert await receive_frame(a1) == expected
    assert await receive_frame(a2) == expected
    assert await sync_to_async(unread)(alice) == 0


async def test_delete_goes_to_every_socket_with_the_exact_count(
    any_layer: str, sockets: Open
) -> None:
    alice = await auser("alice")
    n1, n2, n3 = await create_notifications(alice, 3)
    await amark_read(alice, [n3.pk])
    assert await sync_to_async(delivery.flush)()  # its `read` frame is gone before the sockets open
    (a1, _), (a2, _) = await sockets(alice), await sockets(alice)
    await send_json(a1, {"type": "delete", "ids": [n1.pk, n3.pk]})
    expected = {"type": "deleted", "ids": [n1.pk, n3.pk], "unread_count": 1, "unseen_count": 1}
    assert await receive_frame(a1) == expected
    assert await receive_frame(a2) == expected
    remaining = await sync_to_async(list)(Notification.objects.values_list("pk", flat=True))
    assert remaining == [n2.pk]
    assert await sync_to_async(unread)(alice) == 1


async def test_ping_gets_pong(memory_layer: str, sockets: Open) -> None:
    socket, _ = await sockets(await auser("alice"))
    await send_json(socket, {"type": "ping"})
    assert await receive_frame(socket) == {"type": "pong"}


def unread(user: Any) -> int:
    from notifications.api import unread_count

    return unread_count(user)


def read_state(user: Any) -> list[tuple[int, bool]]:
    return [
        (pk, read_at is not None)
        for pk, read_at in Notification.objects.filter(recipient=user)
        .order_by("seq")
        .values_list("pk", "read_at")
    ]


# Bad frames: an `error` frame, nothing changed, the socket stays usable.

BAD_FRAMES = [
    pytest.param("not json", "invalid_json", id="not-json"),
    pytest.param("[1, 2]", "invalid_json", id="array"),
    pytest.param('"ping"', "invalid_json", id="string"),
    pytest.param("null", "invalid_json", id="null"),
    pytest.param(b'{"type": "ping"}', "binary_not_supported", id="binary"),
    pytest.param('{"type": "shout"}', "unknown_type", id="unknown-type"),
    pytest.param('{"ids": [1]}', "unknown_type", id="no-type"),
    pytest.param('{"type": ["ping"]}', "unknown_type", id="type-not-a-string"),
    pytest.param('{"type": "pong"}', "unknown_type", id="server-type"),
    pytest.param('{"type": "mark_read"}', "invalid", id="no-ids"),
    pytest.param('{"type": "mark_read", "ids": "{id}"}', "invalid", id="ids-string"),
    pytest.param('{"type": "mark_read", "ids": []}', "invalid", id="ids-empty"),
    pytest.param('{"type": "mark_read", "ids": [{id}, "x"]}', "invalid", id="ids-mixed"),
    pytest.param('{"type": "mark_read", "ids": [true]}', "invalid", id="ids-bool"),
    pytest.param('{"type": "mark_read", "ids": [{id}.0]}', "invalid", id="ids-float"),
    pytest.param('{"type": "mark_read", "ids": [-{id}]}', "invalid", id="ids-negative"),
    pytest.param('{"type": "delete", "ids": {"a": {id}}}', "invalid", id="delete-ids-object"),
    pytest.param('{"type": "sync", "since": "1"}', "invalid", id="since-string"),
    pytest.param('{"type": "sync", "since": -1}', "invalid", id="since-negative"),
    pytest.param('{"type": "sync"}', "invalid", id="since-missing"),
    pytest.param("too-many-ids", "invalid", id="ids-over-max"),
]


@pytest.mark.parametrize(("frame", "code"), BAD_FRAMES)
async def test_bad_frame_gets_an_error_and_changes_nothing(
    memory_layer: str, sockets: Open, frame: Any, code: str
) -> None:
    alice = await auser("alice")
    [n1] = await create_notifications(alice, 1)
    socket, _ = await sockets(alice)
    if frame == "too-many-ids":
        frame = json.dumps({"type": "mark_read", "ids": [n1.pk, *list(range(10**6, 10**6 + 500))]})
    if isinstance(frame, bytes):
        await socket.send_to(bytes_data=frame)
    else:
        await socket.send_to(text_data=frame.replace("{id}", str(n1.pk)))
    error = await receive_frame(socket)
    assert (error["type"], error["code"]) == ("error", code)
    assert isinstance(error["message"], str) and error["message"]
    assert await silent(socket)
    assert await sync_to_async(read_state)(alice) == [(n1.pk, False)]
    await send_json(socket, {"type": "mark_read", "ids": [n1.pk]})  # still usable
    assert (await receive_frame(socket))["type"] == "read"


@pytest.mark.parametrize("command", ["mark_read", "delete"])
async def test_ids_of_another_user_are_not_found_and_nothing_changes(
    any_layer: str, sockets: Open, command: str
) -> None:
    alice, bob = await auser("alice"), await auser("bob")
    [mine] = await create_notifications(alice, 1)
    [theirs] = await create_notifications(bob, 1)
    socket, _ = await sockets(alice)
    (bob_socket, _) = await sockets(bob)
    await send_json(socket, {"type": command, "ids": [mine.pk, theirs.pk]})
    error = await receive_frame(socket)
    assert (error["type"], error["code"]) == ("error", "not_found")
    assert await silent(socket)
    assert await silent(bob_socket)
    assert await sync_to_async(read_state)(alice) == [(mine.pk, False)]
    assert await sync_to_async(read_state)(bob) == [(theirs.pk, False)]
    assert await sync_to_async(unread)(alice) == await sync_to_async(unread)(bob) == 1
    await send_json(socket, {"type": "ping"})
    assert await receive_frame(socket) == {"type": "pong"}


@pytest.mark.parametrize(
    ("text", "closes"),
    [
        pytest.param("x" * 16 * 1024, False, id="at-the-limit"),
        pytest.param("x" * (16 * 1024 + 1), True, id="one-byte-over"),
        pytest.param("\u00e9" * 9000, True, id="over-in-utf8-bytes"),
    ],
)
async def test_frame_over_max_frame_bytes_closes_with_4009(
    memory_layer: str, sockets: Open, text: str, closes: bool
) -> None:
    socket, _ = await sockets(await auser("alice"))
    await socket.send_to(text_data=text)
    if closes:
        assert await closed_with(socket) == protocol.CLOSE_TOO_BIG == 4009
    else:
        assert (await receive_frame(socket))["code"] == "invalid_json"


async def test_flooding_is_rate_limited_then_closed_with_4008(
    memory_layer: str, sockets: Open, settings: Any
) -> None:
    settings.NOTIFICATIONS = {
        "RATE_LIMIT_BURST": 5,
        "RATE_LIMIT_PER_SECOND": 0.001,
        "RATE_LIMIT_STRIKES": 3,
    }
    socket, _ = await sockets(await auser("alice"))
    for _ in range(12):
        await send_json(socket, {"type": "ping"})
    assert [f["type"] for f in await frames(socket, 5)] == ["pong"] * 5
    for frame in await frames(socket, 3):
        assert (frame["type"], frame["code"]) == ("error", "rate_limited")
    assert await closed_with(socket) == protocol.CLOSE_TOO_MANY_FRAMES == 4008


# Long-lived sockets and sessions.


@pytest.fixture(params=["memory", "redis", "redis-layer"])
def short_group_expiry(request: pytest.FixtureRequest, settings: Any) -> int:
    """Both layers with group_expiry = 2 s (channels-redis also carrying delivery, not the fan-out)."""
    expiry = 2
    if request.param == "redis-layer":
        settings.NOTIFICATIONS = {"TRANSPORT": "layer"}
    if request.param.startswith("redis"):
        redis_url = request.getfixturevalue("redis_url")
        from tests.conftest import delete_redis_keys
        from tests.servers import redis_layer_config

        delete_redis_keys(redis_url)
        settings.CHANNEL_LAYERS = {"default": redis_layer_config(redis_url, group_expiry=expiry)}
    else:
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels.layers.InMemoryChannelLayer",
                "CONFIG": {"group_expiry": expiry},
            }
        }
    return expiry


@pytest.mark.slow
async def test_socket_open_longer_than_group_expiry_still_receives(
    short_group_expiry: int, sockets: Open
) -> None:
    alice = await auser("alice")
    socket, _ = await sockets(alice)
    # Time passing is the subject: membership from the connect has expired by now.
    await asyncio.sleep(short_group_expiry * 2)
    # A push with no row behind it: only the layer can deliver it (the refresher's catch-up from
    # the database cannot), so this fails if the membership was not renewed.
    frame = json.dumps({"type": "notification", "notification": {"seq": 1, "marker": "layer"}})
    await delivery.send_async([(protocol.user_group(alice.pk), protocol.push_message(1, frame))])
    assert json.loads(await socket.receive_from(timeout=2)) == json.loads(frame)


async def open_with_session(user: Any) -> tuple[WebsocketCommunicator, Client]:
    """A socket opened with a real session cookie, and a test client signed in with that session."""

    def login() -> Client:
        client = Client()
        client.force_login(user)
        return client

    client = await sync_to_async(login)()
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator = WebsocketCommunicator(
        application, PATH, headers=[(b"origin", ORIGIN.encode()), (b"cookie", cookie)]
    )
    connected, _ = await communicator.connect()
    assert connected
    assert (await receive_frame(communicator))["type"] == "welcome"
    return communicator, client


async def test_logout_closes_the_sockets_of_that_session_only_within_a_second(
    any_layer: str, sockets: Open
) -> None:
    alice, bob = await auser("alice"), await auser("bob")
    (a1, laptop), (a2, _) = await open_with_session(alice), await open_with_session(alice)
    (b1, _) = await sockets(bob)
    response = await sync_to_async(laptop.post)("/accounts/logout/")
    assert response.status_code in {200, 302}
    assert await closed_with(a1, timeout=1) == 4401
    for other in (a2, b1):
        await send_json(other, {"type": "ping"})
        assert await receive_frame(other) == {"type": "pong"}
    await anotify(alice, "still signed in on the phone")
    assert (await receive_frame(a2))["type"] == "notification"
    await a2.disconnect()


async def test_pushing_to_a_socket_runs_no_sql_and_no_thread_hop(
    any_layer: str, sockets: Open, monkeypatch: pytest.MonkeyPatch
) -> None:

    alice = await auser("alice")
    socket, _ = await sockets(alice)
    monkeypatch.setattr(delivery, "send", lambda messages: None)
    created = await create_notifications(alice, 2)
    pushes = [protocol.push_message(n.seq, protocol.notification_frame(n)) for n in created]

    # channels >= 4.2 makes a hop to the database thread before every handler unless avoided.
    executed, hops = spy_on_database(monkeypatch)
    await delivery.send_async([(protocol.user_group(alice.pk), push) for push in pushes])
    assert seqs(await frames(socket, 2)) == [1, 2]
    assert executed == []
    assert hops == []
    await send_json(socket, {"type": "sync", "since": 0})  # the spies see the consumer's SQL
    await frames(socket, 2)
    assert executed and hops


def spy_on_database(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[Any]]:
    """The SQL statements run from now on (any thread but presence's writer) and the thread hops."""
    from django.db.backends.utils import CursorWrapper

    executed: list[str] = []
    original = CursorWrapper._execute_with_wrappers

    def spy(self: Any, sql: str, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name != "notifications-presence":
            executed.append(sql)
        return original(self, sql, *args, **kwargs)

    hops: list[Any] = []
    original_call = SyncToAsync.__call__

    def counting_call(self: SyncToAsync, *args: Any, **kwargs: Any) -> Any:
        hops.append(self.func)
        return original_call(self, *args, **kwargs)

    monkeypatch.setattr(CursorWrapper, "_execute_with_wrappers", spy)
    monkeypatch.setattr(SyncToAsync, "__call__", counting_call)
    return executed, hops


def without_sync_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process's own sync pass (its own trip and query) would run in a measured window."""

    async def no_sync_pass(self: transport.Hub, *, shard: int | None = None) -> None:
        pass

    monkeypatch.setattr(transport.Hub, "sync_pass", no_sync_pass)


async def open_with_cookie(cookie: bytes, path: str = PATH) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, path, headers=[(b"origin", ORIGIN.encode()), (b"cookie", cookie)]
    )
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


@pytest.mark.redis
async def test_a_connect_is_one_trip_to_the_database_session_user_inbox_and_replay(
    redis_layer: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    without_sync_pass(monkeypatch)
    alice = await auser("alice")
    cookie = await session_cookie(alice)
    await create_notifications(alice, 2)
    first = await open_with_cookie(cookie)  # the process's hub starts
    await receive_frame(first)
    executed, hops = spy_on_database(monkeypatch)
    socket = await open_with_cookie(cookie, f"{PATH}?since=0")
    assert await receive_frame(socket) == {
        "type": "welcome",
        "unread_count": 2,
        "unseen_count": 2,
        "last_seq": 2,
    }
    assert seqs(await frames(socket, 2)) == [1, 2]
    assert len(hops) == 1, hops
    # The session, its user, the user's sockets in other processes (MAX_CONNECTIONS_PER_USER), the
    # inbox row, the rows after `since`.
    assert len(executed) == 5, executed
    executed.clear()
    hops.clear()
    current = await open_with_cookie(cookie, f"{PATH}?since=2")  # a client up to date: no rows
    assert await receive_frame(current) == {
        "type": "welcome",
        "unread_count": 2,
        "unseen_count": 2,
        "last_seq": 2,
    }
    assert await silent(current)
    assert (len(hops), len(executed)) == (1, 4), executed
    await current.disconnect()
    await socket.disconnect()
    await first.disconnect()


@pytest.mark.redis
async def test_connects_at_the_same_moment_share_their_trips_to_the_database(
    redis_layer: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    without_sync_pass(monkeypatch)
    users = [await auser(f"u{i}") for i in range(20)]
    cookies = [await session_cookie(user) for user in users]
    for user in users[:10]:
        await anotify(user, "before")
    first = await open_with_cookie(cookies[0])  # the process's hub starts
    await receive_frame(first)
    executed, hops = spy_on_database(monkeypatch)
    opened = await asyncio.gather(*(open_with_cookie(c, f"{PATH}?since=0") for c in cookies))
    for i, socket in enumerate(opened):
        welcome = await receive_frame(socket)
        assert (welcome["type"], welcome["last_seq"]) == ("welcome", 1 if i < 10 else 0)
        if i < 10:
            assert seqs(await frames(socket, 1)) == [1]
        assert await silent(socket)
    # 20 sockets: each trip is the sessions, their users, their sockets in other processes and
    # their inboxes, plus the rows of each socket that has some to replay.
    trips = len(hops)
    assert trips < 10, hops
    assert len(executed) == 4 * trips + 10, executed
    await asyncio.gather(*(socket.disconnect() for socket in [first, *opened]))


@pytest.mark.redis
async def test_a_push_fanned_out_while_a_connect_reads_the_database_reaches_it(
    redis_layer: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The socket learns its group (its user) in the same trip as it reads the inbox: a push
    # committed after the read and fanned out before the socket joins its group is held for it.
    alice = await auser("alice")
    cookie = await session_cookie(alice)
    hub = transport.hub()
    read = signin.sign_in_and_read

    def read_then_notify(requests: list[Any]) -> list[Any]:
        loaded = read(requests)
        held = len(hub.held)
        notify(alice, "after the read")
        deadline = time.monotonic() + 10
        while len(hub.held) == held and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(hub.held) > held, "the push never reached the hub"
        return loaded

    monkeypatch.setattr(signin, "sign_in_and_read", read_then_notify)
    socket = await open_with_cookie(cookie, f"{PATH}?since=0")
    assert await receive_frame(socket) == {
        "type": "welcome",
        "unread_count": 0,
        "unseen_count": 0,
        "last_seq": 0,
    }
    assert seqs(await frames(socket, 1)) == [1]
    assert await silent(socket)
    assert not hub.held and not hub.holds  # nothing kept once no socket waits
    await socket.disconnect()


@pytest.mark.redis
@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda user: (setattr(user, "is_active", False), user.save()), id="inactive"),
        pytest.param(lambda user: (user.set_password("new"), user.save()), id="password-changed"),
        pytest.param(lambda user: user.delete(), id="user-deleted"),
    ],
)
async def test_a_session_that_would_not_sign_in_over_http_is_refused(
    redis_layer: dict[str, Any], change: Callable[[Any], Any]
) -> None:
    alice = await auser("alice")
    cookie = await session_cookie(alice)
    await sync_to_async(change)(alice)
    communicator = WebsocketCommunicator(
        application, PATH, headers=[(b"origin", ORIGIN.encode()), (b"cookie", cookie)]
    )
    connected, _ = await communicator.connect()
    assert not connected
    hub = transport.hub()
    assert not hub.holds and hub.sockets == {}
    # The connect started the hub: a subscription cancelled while redis-py is still setting it up
    # can outlive the test's loop.
    await hub.subscribed_to_all()


TENANT_BACKEND = "tests.testapp.backends.TenantBackend"


@pytest.mark.redis
async def test_a_backend_with_a_get_user_of_its_own_decides_who_signs_in(
    redis_layer: dict[str, Any], settings: Any
) -> None:
    # Django's get_user() asks the session's backend; so does the socket, or a site's own rules
    # (a tenant, here) would be skipped over the socket while HTTP keeps them.
    settings.AUTHENTICATION_BACKENDS = [TENANT_BACKEND]
    alice, outsider = await auser("alice"), await auser("other-bob")
    refused = WebsocketCommunicator(
        application,
        PATH,
        headers=[(b"origin", ORIGIN.encode()), (b"cookie", await session_cookie(outsider))],
    )
    connected, _ = await refused.connect()
    assert not connected
    socket = await open_with_cookie(await session_cookie(alice), PATH)
    assert (await receive_frame(socket))["type"] == "welcome"
    await socket.disconnect()
    await transport.hub().subscribed_to_all()


@pytest.mark.django_db
def test_revalidation_ends_a_session_its_backend_no_longer_signs_in(settings: Any) -> None:
    settings.AUTHENTICATION_BACKENDS = [TENANT_BACKEND]
    alice = make_user("alice")
    client = Client()
    client.force_login(alice)
    key = str(client.cookies["sessionid"].value)
    [(user, ref)] = sessions.sign_in([key]).values()
    assert user == alice
    assert sessions.check([ref]) == {ref: sessions.VALID}
    alice.username = "other-alice"  # moved to the other tenant
    alice.save()
    assert sessions.sign_in([key]) == {}
    assert sessions.check([ref]) == {ref: sessions.ENDED}


@pytest.mark.redis
async def test_a_storm_of_sockets_connecting_and_closing_at_once_fails_none(
    redis_layer: dict[str, Any], settings: Any
) -> None:
    # Each connect joins a group and each close leaves it: one Redis command each, all at once.
    # redis-py's pool holds 100 connections and raises past that instead of waiting.
    settings.NOTIFICATIONS = {"MAX_CONNECTIONS_PER_USER": None}  # 200 sockets of one user
    count = 200
    alice = await auser("alice")
    # Generous timeouts: 200 handshakes on one loop of a loaded 2-core machine take seconds, and
    # the subject is that none fails, not how fast they pass.
    results = await asyncio.gather(
        *(connect(application, alice, wait=20) for _ in range(count)), return_exceptions=True
    )
    opened = [r[0] for r in results if not isinstance(r, BaseException)]
    failed = [r for r in results if isinstance(r, BaseException)]
    closing = await asyncio.gather(
        *(c.disconnect(timeout=20) for c in opened), return_exceptions=True
    )
    assert failed == []
    assert [r for r in closing if isinstance(r, BaseException)] == []
    layer = get_channel_layer()
    assert await layer.connection(0).zcard(layer._group_key(protocol.user_group(alice.pk))) == 0
    assert transport.hub().sockets == {}  # and the process keeps no reference to them


async def test_sync_past_the_cap_gets_reset(
    memory_layer: str, sockets: Open, settings: Any
) -> None:
    settings.NOTIFICATIONS = {"CATCH_UP_LIMIT": 3}
    alice = await auser("alice")
    await create_notifications(alice, 5)
    socket, _ = await sockets(alice)
    await send_json(socket, {"type": "sync", "since": 1})
    assert await receive_frame(socket) == {
        "type": "reset",
        "unread_count": 5,
        "unseen_count": 5,
        "last_seq": 5,
    }
    await send_json(socket, {"type": "sync", "since": 2})
    assert seqs(await frames(socket, 3)) == [3, 4, 5]
    assert await silent(socket)


async def test_mark_unread_sends_unread_to_every_socket(any_layer: str, sockets: Open) -> None:
    from notifications.api import mark_unread

    alice = await auser("alice")
    n1, n2 = await create_notifications(alice, 2)
    await amark_read(alice, [n1.pk, n2.pk])
    assert await sync_to_async(delivery.flush)()  # its `read` frame is gone before the sockets open
    (a1, _), (a2, _) = await sockets(alice), await sockets(alice)
    await sync_to_async(mark_unread)(alice, [n2.pk])  # as the admin does
    expected = {"type": "unread", "ids": [n2.pk], "unread_count": 1, "unseen_count": 0}
    assert await receive_frame(a1) == expected
    assert await receive_frame(a2) == expected


class StubbornLayer(InMemoryChannelLayer):  # type: ignore[misc]
    """A layer whose receive() does not end when first cancelled, as channels-redis's does not when
    the cancellation meets redis-py's read timeout (the read is retried): ``mode`` "hold" holds on,
    "swallow" goes on receiving, "convert" turns the cancellation into an error of its own."""

    mode = "hold"
    receives = 0
    in_flight = 0

    async def receive(self, channel: str) -> dict[str, Any]:
        cls = type(self)
        cls.receives += 1
        cls.in_flight += 1
        try:
            try:
                message: dict[str, Any] = await super().receive(channel)
                return message
            except asyncio.CancelledError:
                if self.mode == "convert":
                    raise ConnectionError("connection lost while cancelled") from None
                if self.mode == "swallow":
                    message = await super().receive(channel)
                    return message
                await asyncio.sleep(60)
                raise
        finally:
            cls.in_flight -= 1


class CrashingConsumer(NotificationConsumer):
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data == "crash":
            raise RuntimeError("injected crash")
        await super().receive(text_data, bytes_data)


@pytest.mark.parametrize("mode", ["hold", "swallow", "convert"])
async def test_a_crashed_socket_returns_although_its_layer_receive_holds_on(
    settings: Any, mode: str
) -> None:
    # daphne closes a socket whose handler raised (1011) only once the application has returned:
    # a cancelled layer receive that holds on must not keep it open, nor live on after it.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": f"{__name__}.StubbornLayer"}}
    StubbornLayer.mode = mode
    StubbornLayer.receives = StubbornLayer.in_flight = 0
    alice = await auser("alice")
    socket, _ = await connect(CrashingConsumer.as_asgi(), alice)
    await socket.send_to(text_data="crash")
    with pytest.raises(RuntimeError, match="injected crash"):
        await socket.receive_from(timeout=CANCEL_GRACE + 2)
    receives = StubbornLayer.receives
    await asyncio.sleep(max(LAYER_RETRY_DELAY, 2 * CANCEL_GRACE) + 0.5)
    assert StubbornLayer.in_flight == 0  # asked again, the receive ended
    assert StubbornLayer.receives == receives  # and no loop of ours started another


class RejoinInFlightLayer(InMemoryChannelLayer):  # type: ignore[misc]
    """A re-join (every group_add after the first) is a command already on its way to Redis:
    cancelling the task that awaits it does not stop it from landing."""

    adds = 0
    rejoining: asyncio.Event

    async def group_add(self, group: str, channel: str) -> None:
        cls = type(self)
        cls.adds += 1
        if cls.adds == 1:
            await super().group_add(group, channel)
            return
        cls.rejoining.set()
        try:
            await asyncio.sleep(60)
        finally:
            await super().group_add(group, channel)


async def test_a_socket_ends_out_of_its_group_although_a_rejoin_was_on_its_way(
    settings: Any,
) -> None:
    # The refresher re-joins the group now and then; a socket that ends during a re-join must leave
    # after it lands, or the layer keeps queueing the user's messages for a channel nobody reads.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": f"{__name__}.RejoinInFlightLayer"}}
    settings.NOTIFICATIONS = {"GROUP_REFRESH_INTERVAL": 0.05}
    RejoinInFlightLayer.adds = 0
    RejoinInFlightLayer.rejoining = asyncio.Event()
    alice = await auser("alice")
    socket, _ = await connect(application, alice)
    await asyncio.wait_for(RejoinInFlightLayer.rejoining.wait(), 5)
    await socket.disconnect()
    layer = get_channel_layer()
    assert not layer.groups.get(protocol.user_group(alice.pk))
