"""The traps of Channels, channels-redis and daphne (README.md, docs/deployment.md), each proved not
to bite on a real daphne over Redis."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from notifications import anotify, delivery, notify
from tests import servers
from tests.conftest import make_user, make_users

pytestmark = [pytest.mark.redis]

# redis-py's default socket timeout is 5 s while channels-redis blocks on reads for 5 s.
IDLE_SECONDS = 7


@pytest.mark.slow
def test_socket_idle_longer_than_the_redis_socket_timeout_stays_open_and_receives(
    daphne: Any,
) -> None:
    alice = make_user("alice")
    with servers.ws_connect(daphne, daphne.login("alice", "alice")) as ws:
        assert servers.recv_json(ws)["type"] == "welcome"
        # Idle is the subject: nothing arrives, and the server does not close the socket (1011).
        with pytest.raises(TimeoutError):
            ws.recv(timeout=IDLE_SECONDS)
        notify(alice, "after a quiet spell")
        assert servers.recv_json(ws)["notification"]["seq"] == 1
    assert "Traceback" not in daphne.log()


def test_single_notify_calls_open_a_bounded_number_of_redis_connections(
    daphne: Any, redis_url: str, settings: Any
) -> None:
    alice = make_user("alice")
    name = f"notifications-traps-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    # The layer daphne uses, with a client name so Redis can tell this process's connections apart.
    settings.CHANNEL_LAYERS = {"default": servers.redis_layer_config(redis_url, client_name=name)}
    with servers.ws_connect(daphne, daphne.login("alice", "alice")) as ws:
        assert servers.recv_json(ws)["type"] == "welcome"
        with servers.counting_redis_connections() as opened:
            for i in range(200):
                notify(alice, "single", title=str(i))
            assert delivery.flush()
        received = [servers.recv_json(ws)["notification"]["seq"] for _ in range(200)]
    assert received == list(range(1, 201))
    # The naive async_to_sync(group_send) per call opens (and drops) one connection per call.
    assert len(opened) <= 2
    client = redis.Redis.from_url(redis_url)
    try:
        ours = [c for c in client.client_list() if c.get("name") == name]
    finally:
        client.close()
    assert 1 <= len(ours) <= 2  # Redis's view: the same few connections, kept open for reuse


@pytest.mark.slow
async def test_burst_of_500_notifications_to_500_sockets_of_one_server_loses_none(
    daphne: Any, settings: Any, redis_url: str
) -> None:
    count = 500
    # The sharpest burst this process can make: every group_send in flight at once (the default
    # sends 64 at a time), on a pool big enough for it. The server side keeps its own settings.
    settings.NOTIFICATIONS = {"PUBLISH_CONCURRENCY": count}
    settings.CHANNEL_LAYERS = {
        "default": servers.redis_layer_config(redis_url, max_connections=count + 100)
    }
    users = await sync_to_async(make_users)(count)
    sessions = await sync_to_async(servers.create_sessions)(users)
    gate = asyncio.Semaphore(50)

    async def open_socket(session: servers.Session) -> ClientConnection:
        async with gate:
            ws = await connect(
                daphne.ws_url,
                origin=daphne.origin,  # type: ignore[arg-type]
                additional_headers={"Cookie": session.header},
                open_timeout=30,
            )
            assert json.loads(await ws.recv())["type"] == "welcome"
            return ws

    sockets = await asyncio.gather(*(open_socket(s) for s in sessions))
    try:
        # One burst: 500 pushes land on the one Redis queue of the server process at once.
        created = await anotify(users, "burst")
        frames = await asyncio.gather(
            *(asyncio.wait_for(ws.recv(), 30) for ws in sockets), return_exceptions=True
        )
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    lost = [users[i].username for i, f in enumerate(frames) if isinstance(f, BaseException)]
    assert lost == []
    by_recipient = {n.recipient_id: n.pk for n in created}
    got = [json.loads(f)["notification"]["id"] for f in frames]  # type: ignore[arg-type]
    assert got == [by_recipient[u.pk] for u in users]


def read_until(ws: Any, seen: list[int], last_seq: int) -> None:
    while not seen or seen[-1] < last_seq:
        seen.append(servers.recv_json(ws)["notification"]["seq"])


@pytest.mark.slow
def test_after_a_redis_restart_nothing_is_lost_and_no_socket_is_left_deaf(
    transactional_db: None, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with servers.redis_server() as redis_server:
        settings.CHANNEL_LAYERS = {"default": servers.redis_layer_config(redis_server.url)}
        alice = make_user("alice")
        with servers.daphne_server(redis_server.url) as daphne:
            session = daphne.login("alice", "alice")
            seen: list[int] = []
            with servers.ws_connect(daphne, session) as ws:
                assert servers.recv_json(ws)["type"] == "welcome"
                notify(alice, "before")
                read_until(ws, seen, 1)
                redis_server.stop()
                notify(alice, "while Redis is down")  # logged, not raised; the row is saved
                redis_server.start()  # empty: every group membership is gone
                caplog.clear()
                notify(alice, "after the restart")  # on a stale pooled connection: retried
                assert [r for r in caplog.records if r.name == "notifications.delivery"] == []
                # An open socket that stays deaf times out here; a closed one is fine: the client
                # reconnects with ?since= (below).
                with contextlib.suppress(ConnectionClosed):
                    read_until(ws, seen, 3)
            # The client reconnects once, catches up, and live delivery works again (no second
            # wave of closes from connections the server's pool kept to the old Redis).
            with servers.ws_connect(daphne, session, since=seen[-1]) as ws:
                welcome = servers.recv_json(ws)
                read_until(ws, seen, welcome["last_seq"])
                notify(alice, "live again")
                read_until(ws, seen, welcome["last_seq"] + 1)
    assert seen == [1, 2, 3, 4]  # every one, once, in order
