"""End to end: daphne subprocesses, a real WebSocket client, real HTTP sessions, Redis between them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from notifications import notify
from tests import servers
from tests.conftest import make_user

pytestmark = [pytest.mark.redis]


def test_notification_created_here_reaches_a_socket_on_daphne(daphne: Any) -> None:
    alice = make_user("alice")
    session = daphne.login("alice", "alice")
    with servers.ws_connect(daphne, session) as ws:
        assert servers.recv_json(ws) == {
            "type": "welcome",
            "unread_count": 0,
            "unseen_count": 0,
            "last_seq": 0,
        }
        created = notify(alice, "commented", title="Hello", url="/posts/1/")
        frame = servers.recv_json(ws)
    assert frame["type"] == "notification"
    assert frame["notification"]["id"] == created[0].pk
    assert frame["notification"]["seq"] == 1
    assert frame["notification"]["title"] == "Hello"


def test_a_tab_that_was_offline_gets_what_it_missed_on_reconnect(daphne: Any) -> None:
    alice = make_user("alice")
    session = daphne.login("alice", "alice")
    with servers.ws_connect(daphne, session) as ws:
        servers.recv_json(ws)
        notify(alice, "seen")
        assert servers.recv_json(ws)["notification"]["seq"] == 1
    notify(alice, "missed 1")
    notify(alice, "missed 2")
    with servers.ws_connect(daphne, session, since=1) as ws:
        assert servers.recv_json(ws) == {
            "type": "welcome",
            "unread_count": 3,
            "unseen_count": 3,
            "last_seq": 3,
        }
        assert [servers.recv_json(ws)["notification"]["seq"] for _ in range(2)] == [2, 3]
        notify(alice, "live", title="live")
        frame = servers.recv_json(ws)
    assert (frame["notification"]["seq"], frame["notification"]["title"]) == (4, "live")


def test_real_server_refuses_a_foreign_origin(daphne: Any) -> None:
    make_user("alice")
    session = daphne.login("alice", "alice")
    with pytest.raises(InvalidStatus) as refused:
        servers.ws_connect(daphne, session, origin="http://evil.example")
    assert refused.value.response.status_code == 403
    with servers.ws_connect(
        daphne, session
    ) as ws:  # the same session from an allowed origin is accepted
        assert servers.recv_json(ws)["type"] == "welcome"


def test_logging_out_closes_the_sockets_of_that_session_only_with_4401(daphne: Any) -> None:
    alice = make_user("alice")
    make_user("bob")
    laptop = daphne.login("alice", "alice")
    with (
        servers.ws_connect(daphne, laptop) as first,
        servers.ws_connect(daphne, laptop) as second,  # another tab of the same browser
        servers.ws_connect(daphne, daphne.login("alice", "alice")) as phone,  # another device
        servers.ws_connect(daphne, daphne.login("bob", "bob")) as bobs,
    ):
        for ws in (first, second, phone, bobs):
            assert servers.recv_json(ws)["type"] == "welcome"
        daphne.logout(laptop)
        for ws in (first, second):
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=1)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        for ws in (phone, bobs):
            ws.send('{"type": "ping"}')
            assert servers.recv_json(ws) == {"type": "pong"}
        notify(alice, "the phone is still signed in")
        assert servers.recv_json(phone)["type"] == "notification"
    servers.assert_clean_log(daphne)


def test_real_server_refuses_anonymous(daphne: Any) -> None:
    with pytest.raises(InvalidStatus) as refused:
        servers.ws_connect(daphne, None)
    assert refused.value.response.status_code == 403


@pytest.mark.slow
def test_notification_from_a_third_process_reaches_two_daphne_processes(
    daphne_factory: Any, redis_url: str
) -> None:
    make_user("alice")
    first, second = daphne_factory(), daphne_factory()
    with (
        servers.ws_connect(first, first.login("alice", "alice")) as ws1,
        servers.ws_connect(second, second.login("alice", "alice")) as ws2,
    ):
        assert servers.recv_json(ws1)["type"] == servers.recv_json(ws2)["type"] == "welcome"
        servers.manage(redis_url, "notify", "alice", "--verb", "deployed", "--title", "v2 is out")
        got = [servers.recv_json(ws1), servers.recv_json(ws2)]
    for frame in got:
        assert frame["type"] == "notification"
        assert frame["notification"]["seq"] == 1
        assert frame["notification"]["title"] == "v2 is out"


@pytest.mark.slow
def test_mark_read_on_one_server_reaches_the_users_socket_on_another(daphne_factory: Any) -> None:
    alice = make_user("alice")
    first, second = daphne_factory(), daphne_factory()
    [n1] = notify(alice, "one")
    [n2] = notify(alice, "two")
    with (
        servers.ws_connect(first, first.login("alice", "alice")) as ws1,
        servers.ws_connect(second, second.login("alice", "alice")) as ws2,
    ):
        assert servers.recv_json(ws1)["unread_count"] == servers.recv_json(ws2)["unread_count"] == 2
        ws1.send(json.dumps({"type": "mark_read", "ids": [n1.pk]}))
        expected = {"type": "read", "ids": [n1.pk], "unread_count": 1, "unseen_count": 1}
        assert servers.recv_json(ws1) == expected
        assert servers.recv_json(ws2) == expected
        ws2.send(json.dumps({"type": "delete", "ids": [n2.pk]}))
        expected = {"type": "deleted", "ids": [n2.pk], "unread_count": 0, "unseen_count": 0}
        assert servers.recv_json(ws2) == expected
        assert servers.recv_json(ws1) == expected
