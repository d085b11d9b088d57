"""How a socket ends, through real daphne processes: nothing of it outlives it, and no socket outlives
its session or its client's reading.

The daphne processes serve tests/probe_asgi.py where the test needs to crash a handler or to ask the
process what it still holds.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import redis
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session as SessionRow
from websockets.exceptions import ConnectionClosed, InvalidStatus

from notifications import delivery, notify, protocol
from tests import servers
from tests.conftest import REDIS_PREFIX, make_user, make_users

pytestmark = [pytest.mark.redis]


def server_settings(**values: Any) -> dict[str, str]:
    """Environment giving a daphne subprocess these NOTIFICATIONS (tests/settings.py)."""
    return {"NOTIFICATIONS_TEST_SETTINGS": json.dumps(values)}


@pytest.fixture
def ws_open() -> Iterator[Callable[..., Any]]:
    """``ws_open(server, session, **kwargs)``: a connected client that sent its welcome; all closed after."""
    with ExitStack() as stack:

        def open_(server: servers.DaphneServer, session: servers.Session, **kwargs: Any) -> Any:
            ws = stack.enter_context(servers.ws_connect(server, session, **kwargs))
            assert servers.recv_json(ws)["type"] == "welcome"
            return ws

        yield open_


def left_their_groups(redis_url: str, users: list[Any]) -> None:
    """Every channel of these users has left its group. Waited for: a socket's group_discard comes
    last as it ends (after the hub lets it go and its tasks end, which is what the probe sees), up to
    CANCEL_GRACE + PUBLISH_TIMEOUT later on a loaded machine."""
    empty: dict[str, set[str]] = {str(u.pk): set() for u in users}
    servers.wait_until(lambda: group_members(redis_url, users) == empty, "the groups are empty", 10)


def group_members(redis_url: str, users: list[Any]) -> dict[str, set[str]]:
    """The channels in each user's channels-redis group (the core layer's sorted sets)."""
    client = redis.Redis.from_url(redis_url)
    try:
        return {
            str(user.pk): {
                m.decode()
                for m in client.zrange(
                    f"{REDIS_PREFIX}:group:{protocol.user_group(user.pk)}", 0, -1
                )
            }
            for user in users
        }
    finally:
        client.close()


def assert_only_injected_tracebacks(server: servers.DaphneServer) -> None:
    log = server.log()
    assert log.count("Traceback") == log.count("RuntimeError: injected crash"), log[-3000:]


def closed_code(ws: Any, timeout: float = 15) -> int | None:
    """Read until the server closes the socket; its close code (None: dropped without one).

    The wait is above daphne's 10 s application close timeout: 50 sockets ending at once on a loaded
    machine (the PostgreSQL leg) may take longer than a few seconds to be closed."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=timeout)
    return closed.value.rcvd.code if closed.value.rcvd else None


# Item 2: whatever way a socket ends, its tasks, hub entry and group membership go with it.


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["auto", "layer"])
def test_50_sockets_crashed_by_a_handler_exception_leave_nothing_behind(
    daphne_factory: Any, redis_url: str, settings: Any, ws_open: Any, mode: str
) -> None:
    settings.NOTIFICATIONS = {"TRANSPORT": mode}
    users = make_users(10)
    sessions = servers.create_sessions(users)
    server = daphne_factory(
        application=servers.PROBE_APP,
        env=server_settings(TRANSPORT=mode, GROUP_REFRESH_INTERVAL=1),
    )
    opened = [ws_open(server, session) for session in sessions * 5]
    assert servers.probe(server)["hub_sockets"] == 50
    if mode == "layer":
        assert all(len(m) == 5 for m in group_members(redis_url, users).values())
    for ws in opened:
        ws.send("crash")
    for ws in opened:
        assert closed_code(ws) == 1011  # daphne's answer to an application that raised
    notify(users, "after the crash")  # traffic for the dead channels, were they still joined
    servers.wait_held(server, {"hub_sockets": 0, "consumer_tasks": 0}, timeout=30)
    if mode == "layer":
        left_their_groups(redis_url, users)
        time.sleep(2.5)  # two refresh intervals: a refresher that outlived its socket re-joins
        assert group_members(redis_url, users) == {str(u.pk): set() for u in users}
    assert_only_injected_tracebacks(server)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["auto", "layer"])
def test_closed_and_dropped_sockets_leave_nothing_behind(
    daphne_factory: Any, redis_url: str, settings: Any, ws_open: Any, mode: str
) -> None:
    users = make_users(2)
    sessions = servers.create_sessions(users)
    settings.NOTIFICATIONS = {"TRANSPORT": mode}
    server = daphne_factory(application=servers.PROBE_APP, env=server_settings(TRANSPORT=mode))
    sockets = [ws_open(server, s) for s in sessions * 3]
    sockets[0].close()  # the client closes
    sockets[1].socket.shutdown(socket.SHUT_RDWR)  # the client vanishes without a close frame
    # The server closes: a logout of the first session (its sockets 2 and 4).
    delivery.send(delivery.logout_messages(users[0].pk, sessions[0].sessionid))
    assert closed_code(sockets[2]) == closed_code(sockets[4]) == 4401
    servers.wait_held(server, {"hub_sockets": 2})
    for ws in (sockets[3], sockets[5]):
        ws.close()
    servers.wait_held(server, {"hub_sockets": 0, "consumer_tasks": 0}, timeout=30)
    left_their_groups(redis_url, users)
    servers.assert_clean_log(server)


# Item 3: after SIGTERM or SIGKILL no state of the process's sockets outlives a few minutes.


def redis_keys(url: str) -> list[str]:
    client = redis.Redis.from_url(url)
    try:
        return sorted(k.decode() for k in client.scan_iter(match=f"{REDIS_PREFIX}*"))
    finally:
        client.close()


def fanout_subscribers(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        channel = protocol.fanout_channel(REDIS_PREFIX)
        return int(dict(client.pubsub_numsub(channel))[channel.encode()])
    finally:
        client.close()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_fanout_keeps_nothing_in_redis_for_a_killed_daphne(
    daphne_factory: Any, redis_url: str, ws_open: Any, sig: signal.Signals
) -> None:
    users = make_users(5)
    server = daphne_factory()
    for session in servers.create_sessions(users) * 2:
        ws_open(server, session)
    assert fanout_subscribers(redis_url) == 1
    server.process.send_signal(sig)
    server.process.wait(30)
    notify(users, "to nobody")
    servers.wait_until(lambda: fanout_subscribers(redis_url) == 0, "the subscription ends", 10)
    assert redis_keys(redis_url) == []
    if sig == signal.SIGTERM:
        servers.assert_clean_log(server)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_layer_memberships_of_a_killed_daphne_expire_with_group_expiry(
    daphne_factory: Any, redis_url: str, settings: Any, ws_open: Any, sig: signal.Signals
) -> None:
    expiry = 3
    settings.NOTIFICATIONS = {"TRANSPORT": "layer"}
    settings.CHANNEL_LAYERS = {
        "default": servers.redis_layer_config(redis_url, group_expiry=expiry)
    }
    env = {
        **server_settings(TRANSPORT="layer"),
        "NOTIFICATIONS_TEST_LAYER_OPTIONS": json.dumps({"group_expiry": expiry}),
    }
    users = make_users(4)
    sessions = servers.create_sessions(users)
    killed, survivor = daphne_factory(env=env), daphne_factory(env=env)
    for session in sessions * 2:
        ws_open(killed, session)
    dead = {c for members in group_members(redis_url, users).values() for c in members}
    assert len(dead) == 8
    live = ws_open(survivor, sessions[0])  # the user's group stays in use
    killed.process.send_signal(sig)  # daphne's SIGTERM cancels the consumers without disconnect()
    killed.process.wait(30)
    time.sleep(expiry + 1)  # the expiry is the subject
    notify(users, "later traffic")  # group_send also drops the expired members of its group
    assert seq_of(live) == 1
    left = {c for members in group_members(redis_url, users).values() for c in members}
    assert len(left) == 1 and not left & dead
    dead_queues = {c.split("!")[0] for c in dead}  # the killed process's message queue
    assert [k for k in redis_keys(redis_url) if any(q in k for q in dead_queues)] == []
    servers.assert_clean_log(survivor)


def seq_of(ws: Any, timeout: float = 10) -> int:
    frame = servers.recv_json(ws, timeout)
    assert frame["type"] == "notification", frame
    return int(frame["notification"]["seq"])


# Items 4 and 5: a socket lives as long as the session it was opened with.


def closed_within(ws: Any, seconds: float) -> int | None:
    """The close code of a socket the server closes within `seconds` (frames before it skipped)."""
    start = time.monotonic()
    code = closed_code(ws, timeout=seconds)
    assert time.monotonic() - start < seconds
    return code


def still_open(ws: Any) -> None:
    ws.send('{"type": "ping"}')
    assert servers.recv_json(ws) == {"type": "pong"}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda user: (user.set_password("new"), user.save()), id="password"),
        pytest.param(lambda user: (setattr(user, "is_active", False), user.save()), id="inactive"),
        pytest.param(lambda user: user.delete(), id="user-deleted"),
    ],
)
def test_a_change_of_the_user_through_the_orm_closes_its_sockets_within_a_second(
    daphne: Any, ws_open: Any, change: Callable[[Any], Any]
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    sockets = [ws_open(daphne, daphne.login("alice", "alice")) for _ in range(2)]
    bobs = ws_open(daphne, daphne.login("bob", "bob"))
    change(get_user_model().objects.get(pk=alice.pk))
    for ws in sockets:
        assert closed_within(ws, 1.5) == 4401
    still_open(bobs)
    notify(bob, "bob is unaffected")
    assert seq_of(bobs) == 1
    servers.assert_clean_log(daphne)


def test_a_deleted_session_closes_its_sockets_only(daphne: Any, ws_open: Any) -> None:
    make_user("alice")
    laptop, phone = daphne.login("alice", "alice"), daphne.login("alice", "alice")
    on_laptop, on_phone = ws_open(daphne, laptop), ws_open(daphne, phone)
    SessionRow.objects.filter(session_key=laptop.sessionid).delete()
    assert closed_within(on_laptop, 1.5) == 4401
    still_open(on_phone)
    servers.assert_clean_log(daphne)


def test_a_password_change_in_the_browser_keeps_it_and_closes_the_others(
    daphne: Any, ws_open: Any
) -> None:
    alice = make_user("alice")
    laptop, phone = daphne.login("alice", "alice"), daphne.login("alice", "alice")
    on_laptop, on_phone = ws_open(daphne, laptop), ws_open(daphne, phone)
    renewed = daphne.change_password(laptop, "alice", "a new secret 8271")
    assert renewed.sessionid != laptop.sessionid  # update_session_auth_hash() cycled the key
    assert closed_within(on_phone, 1.5) == 4401
    assert closed_within(on_laptop, 1.5) == protocol.CLOSE_RECONNECT
    with pytest.raises(InvalidStatus):  # the old cookie is no longer signed in
        servers.ws_connect(daphne, laptop)
    again = ws_open(daphne, renewed, since=0)  # the browser reconnects with its new cookie
    notify(alice, "still here")
    assert seq_of(again) == 1
    servers.assert_clean_log(daphne)


def test_a_change_the_orm_does_not_see_closes_at_the_next_session_check(
    daphne_factory: Any, ws_open: Any
) -> None:
    alice = make_user("alice")
    server = daphne_factory(env=server_settings(SESSION_CHECK_INTERVAL=1))
    on_laptop = ws_open(server, server.login("alice", "alice"))
    get_user_model().objects.filter(pk=alice.pk).update(is_active=False)  # no signal
    assert closed_within(on_laptop, 3) == 4401
    servers.assert_clean_log(server)


# Item 8: a client that stops reading.

BACKLOG_COUNT = 2000
BACKLOG_BODY = "z" * 10_000


@pytest.mark.slow
def test_a_client_that_stops_reading_is_closed_and_catches_up(
    daphne_factory: Any, ws_open: Any
) -> None:
    import contextlib
    import threading

    alice = make_user("alice")
    server = daphne_factory(env=server_settings(CATCH_UP_LIMIT=5000))
    session = server.login("alice", "alice")
    # A client that stops reading (TCP backpressure), with a fixed receive buffer: autotuned, the
    # kernel's would take up to tcp_rmem's maximum (32 MB here) of the backlog before daphne does.
    tcp = socket.socket()
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    tcp.connect((server.host, server.port))
    stalled = ws_open(server, session, max_size=None, max_queue=2, sock=tcp)
    seen: list[int] = []

    def read_everything() -> None:
        # A client that reads, and reconnects as the browser does if it falls behind all the same.
        while len(seen) < BACKLOG_COUNT:
            with servers.ws_connect(server, session, since=len(seen), max_size=None) as ws:
                assert servers.recv_json(ws)["type"] == "welcome"
                with contextlib.suppress(ConnectionClosed):
                    while len(seen) < BACKLOG_COUNT:
                        seen.append(seq_of(ws, 60))

    reading = threading.Thread(target=read_everything, daemon=True)
    reading.start()
    rss_before = server.rss_bytes()
    for i in range(BACKLOG_COUNT):
        notify(alice, "big", title=str(i), body=BACKLOG_BODY)
    reading.join(120)
    assert seen == list(range(1, BACKLOG_COUNT + 1))  # the server pushed everything
    grown = server.rss_bytes() - rss_before
    got = []
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            got.append(seq_of(stalled))
    assert closed.value.rcvd is None or closed.value.rcvd.code == protocol.CLOSE_RECONNECT
    assert got == list(range(1, len(got) + 1)) and len(got) < BACKLOG_COUNT
    # Without the bound daphne holds the whole backlog (~20 MB) until the ping timeout.
    assert grown < 8 * 2**20, f"daphne grew by {grown / 2**20:.1f} MiB"
    back = ws_open(server, session, since=len(got), max_size=None)  # it comes back
    assert [seq_of(back) for _ in range(len(got), BACKLOG_COUNT)] == list(
        range(len(got) + 1, BACKLOG_COUNT + 1)
    )
    servers.assert_clean_log(server)


# Items 9 and 10: Redis dies under 50 open sockets.


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["auto", "layer"])
def test_a_redis_outage_logs_a_line_per_kind_of_failure_not_a_traceback_per_socket(
    transactional_db: None, settings: Any, ws_open: Any, mode: str
) -> None:
    from channels.layers import channel_layers

    with servers.redis_server() as own_redis:
        settings.NOTIFICATIONS = {"TRANSPORT": mode}
        settings.CHANNEL_LAYERS = {"default": servers.redis_layer_config(own_redis.url)}
        channel_layers.backends.clear()
        users = make_users(10)
        sessions = servers.create_sessions(users)
        with servers.daphne_server(own_redis.url, env=server_settings(TRANSPORT=mode)) as server:
            sockets = [ws_open(server, s) for s in sessions * 5]
            own_redis.stop()
            notify(users, "while Redis is down")  # saved; live delivery fails (logged here)
            if mode == "layer":  # a handshake needs Redis to join the group: refused cleanly
                with pytest.raises(InvalidStatus) as refused:
                    servers.ws_connect(server, sessions[0])
                assert refused.value.response.status_code == 403
            time.sleep(12)  # the outage is the subject: more than one warning interval
            own_redis.start()
            # Every socket is still open and gets what it missed from the database.
            for ws in sockets:
                assert seq_of(ws, 30) == 1
            log = server.log()
        channel_layers.backends.clear()
    assert "Traceback" not in log, log[-3000:]
    warnings = [line for line in log.splitlines() if " WARNING " in line or " ERROR " in line]
    assert 1 <= len(warnings) <= 8, "\n".join(warnings)


def test_a_handshake_while_the_database_is_down_is_refused_cleanly(daphne_factory: Any) -> None:
    [session] = servers.create_sessions([make_user("alice")])
    broken = daphne_factory(db_name="/nonexistent-notifications-db/x.sqlite3")
    for _ in range(5):
        with pytest.raises(InvalidStatus) as refused:
            servers.ws_connect(broken, session)
        assert refused.value.response.status_code == 403, broken.log()[-3000:]
    log = broken.log()
    assert "Traceback" not in log, log[-3000:]
    assert log.count("Refused a WebSocket handshake") == 1  # once per interval, not per attempt
