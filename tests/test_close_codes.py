"""Every way the server closes a socket, through a real daphne: the pinned code reaches the client and
nothing crashes in the server (daphne refuses close codes outside 1000 and 3000-4999 with a traceback,
which WebsocketCommunicator never shows)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from django.db.models import Sum
from websockets.exceptions import ConnectionClosed, InvalidStatus

from notifications import protocol
from notifications.models import Presence
from tests import servers
from tests.conftest import make_user

pytestmark = [pytest.mark.redis]


def close_code(ws: Any) -> int | None:
    """Read until the server closes the socket; its close code."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=10)
    return closed.value.rcvd.code if closed.value.rcvd else None


def test_pinned_close_codes_are_ones_a_server_may_send() -> None:
    codes = {
        protocol.CLOSE_TOO_MANY_FRAMES: 4008,
        protocol.CLOSE_TOO_BIG: 4009,
        protocol.CLOSE_TOO_MANY_CONNECTIONS: 4029,
        protocol.CLOSE_LOGGED_OUT: 4401,
    }
    assert all(code == pinned and 4000 <= code <= 4999 for code, pinned in codes.items())


def test_a_frame_over_max_frame_bytes_closes_with_4009(daphne: Any) -> None:
    make_user("alice")
    with servers.ws_connect(daphne, daphne.login("alice", "alice")) as ws:
        assert servers.recv_json(ws)["type"] == "welcome"
        ws.send("x" * (16 * 1024 + 1))
        assert close_code(ws) == protocol.CLOSE_TOO_BIG
    servers.assert_clean_log(daphne)


def test_flooding_after_rate_limited_closes_with_4008(daphne: Any) -> None:
    make_user("alice")
    with servers.ws_connect(daphne, daphne.login("alice", "alice")) as ws:
        assert servers.recv_json(ws)["type"] == "welcome"
        # Default limits: a burst of 40, then 20 `rate_limited` errors, then the close.
        for _ in range(100):
            ws.send(json.dumps({"type": "ping"}))
        kinds: list[str] = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                frame = servers.recv_json(ws)
                kinds.append(frame.get("code", frame["type"]))
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == protocol.CLOSE_TOO_MANY_FRAMES
    assert "pong" in kinds and "rate_limited" in kinds
    servers.assert_clean_log(daphne)


def test_logout_closes_with_4401(daphne: Any) -> None:
    make_user("alice")
    session = daphne.login("alice", "alice")
    with servers.ws_connect(daphne, session) as ws:
        assert servers.recv_json(ws)["type"] == "welcome"
        daphne.logout(session)
        assert close_code(ws) == protocol.CLOSE_LOGGED_OUT
    servers.assert_clean_log(daphne)


def test_a_client_close_completes_the_closing_handshake(daphne: Any) -> None:
    make_user("alice")
    with servers.ws_connect(daphne, daphne.login("alice", "alice")) as ws:
        assert servers.recv_json(ws)["type"] == "welcome"
        ws.close(4000)
        assert ws.close_code == 1000  # daphne answers a client's close with 1000
    servers.assert_clean_log(daphne)


@pytest.mark.parametrize("who", ["anonymous", "foreign-origin"])
def test_refused_handshakes_are_a_clean_403(daphne: Any, who: str) -> None:
    make_user("alice")
    session = None if who == "anonymous" else daphne.login("alice", "alice")
    origin = "http://evil.example" if who == "foreign-origin" else daphne.origin
    with pytest.raises(InvalidStatus) as refused:
        servers.ws_connect(daphne, session, origin=origin)
    assert refused.value.response.status_code == 403
    servers.assert_clean_log(daphne)


# MAX_CONNECTIONS_PER_USER (20 by default), counted across every daphne process.

CAP = 20


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    """Sockets entered here are closed after the test."""
    with ExitStack() as sockets:
        yield sockets


def open_sockets(
    stack: ExitStack, server: servers.DaphneServer, session: servers.Session, count: int
) -> list[Any]:
    sockets = []
    for _ in range(count):
        ws = stack.enter_context(servers.ws_connect(server, session))
        assert servers.recv_json(ws)["type"] == "welcome"
        sockets.append(ws)
    return sockets


def refused_with_4029(server: servers.DaphneServer, session: servers.Session) -> bool:
    """A socket over the cap opens (daphne closes with a code only after accepting), then closes."""
    with servers.ws_connect(server, session) as ws:
        return close_code(ws) == protocol.CLOSE_TOO_MANY_CONNECTIONS


def admitted(stack: ExitStack, server: servers.DaphneServer, session: servers.Session) -> Any:
    """A socket that got its welcome, or None if it was closed with 4029."""
    ws = stack.enter_context(servers.ws_connect(server, session))
    try:
        if servers.recv_json(ws)["type"] == "welcome":
            return ws
    except ConnectionClosed:
        assert ws.close_code == protocol.CLOSE_TOO_MANY_CONNECTIONS
    return None


def counted_sockets(user: Any) -> int:
    """The user's sockets in the presence table, as written by the daphne processes."""
    found = Presence.objects.filter(user=user).aggregate(n=Sum("sockets"))["n"]
    return int(found or 0)


def test_the_socket_over_the_users_cap_closes_with_4029_and_others_are_unaffected(
    daphne: Any, stack: ExitStack
) -> None:
    make_user("alice")
    make_user("bob")
    alice = daphne.login("alice", "alice")
    sockets = open_sockets(stack, daphne, alice, CAP)
    assert refused_with_4029(daphne, alice)
    assert refused_with_4029(daphne, alice)  # and again: a refused socket takes no place
    open_sockets(stack, daphne, daphne.login("bob", "bob"), 1)
    sockets[0].close()
    # The place frees once daphne has ended the closed socket (in its own process).
    servers.wait_until(lambda: admitted(stack, daphne, alice), "a place freed")
    assert refused_with_4029(daphne, alice)
    servers.assert_clean_log(daphne)


def test_two_daphne_processes_share_the_users_cap(daphne_factory: Any, stack: ExitStack) -> None:
    user = make_user("alice")
    first, second = daphne_factory(), daphne_factory()
    session = first.login("alice", "alice")
    open_sockets(stack, first, session, CAP // 2)
    servers.wait_until(
        lambda: counted_sockets(user) == CAP // 2, "the first process's count written"
    )
    sockets = open_sockets(stack, second, session, CAP // 2)
    servers.wait_until(lambda: counted_sockets(user) == CAP, "the second process's count written")
    assert refused_with_4029(first, session)
    assert refused_with_4029(second, session)
    sockets[0].close()
    servers.wait_until(
        lambda: admitted(stack, first, session), "a place freed in the other process"
    )
    servers.wait_until(
        lambda: counted_sockets(user) == CAP, "the first process's new count written"
    )
    assert refused_with_4029(second, session)
    servers.assert_clean_log(first)
    servers.assert_clean_log(second)
