"""Every way the server closes a socket, through a real daphne: the pinned code reaches the client and
nothing crashes in the server (daphne refuses close codes outside 1000 and 3000-4999 with a traceback,
which WebsocketCommunicator never shows)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from notifications import protocol
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
