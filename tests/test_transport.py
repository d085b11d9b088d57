"""The Redis fan-out and the per-process sync pass (redis_fanout.py, hub.py), on real servers.

Real daphne processes, real redis-servers of the test's own (stopped and restarted), a real WebSocket
client, and a third process (manage.py) sending.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels_redis.utils import _consistent_hash

from notifications import anotify, delivery, notify, protocol, transport
from notifications.consumers import NotificationConsumer
from notifications.testing import connect, receive_frame
from project.asgi import application
from tests import servers
from tests.conftest import make_user, make_users

pytestmark = [pytest.mark.redis]


def server_settings(**values: Any) -> dict[str, str]:
    """Environment giving a daphne subprocess these NOTIFICATIONS (tests/settings.py)."""
    return {"NOTIFICATIONS_TEST_SETTINGS": json.dumps(values)}


def seq_of(ws: Any, timeout: float = 10) -> int:
    frame = servers.recv_json(ws, timeout)
    assert frame["type"] == "notification", frame
    return int(frame["notification"]["seq"])


def assert_silent(ws: Any, timeout: float) -> None:
    with pytest.raises(TimeoutError):
        ws.recv(timeout=timeout)


def test_sender_and_servers_shard_groups_as_channels_redis_does() -> None:
    groups = [protocol.user_group(pk) for pk in [*range(500), "a b", "7f1c-uuid"]]
    for ring in (1, 2, 3, 5):
        assert [transport.shard(g, ring) for g in groups] == [
            _consistent_hash(g, ring) for g in groups
        ]


@pytest.mark.django_db(transaction=True)
async def test_the_fan_out_never_waits_for_a_socket_that_is_busy(settings: Any) -> None:
    """A socket stuck in its catch-up query does not delay the next socket's push."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    alice, bob = await sync_to_async(make_user)("alice"), await sync_to_async(make_user)("bob")
    a, _ = await connect(application, alice)
    b, _ = await connect(application, bob)
    gate = asyncio.Event()
    original = NotificationConsumer._catch_up

    async def slow_catch_up(self: Any, since: Any, *, welcome: bool) -> None:
        if self.user.pk == alice.pk:
            await gate.wait()  # a slow database, for alice's socket only
        await original(self, since, welcome=welcome)

    NotificationConsumer._catch_up = slow_catch_up  # type: ignore[method-assign]
    try:
        gap = protocol.push_message(3, '{"type":"notification","notification":{"seq":3}}')
        frame = '{"type":"notification","notification":{"seq":1}}'
        await delivery.send_async(
            [
                (protocol.user_group(alice.pk), gap),  # alice's socket must catch up first
                (protocol.user_group(bob.pk), protocol.push_message(1, frame)),
            ]
        )
        assert await receive_frame(b, wait=2) == json.loads(frame)
        assert not gate.is_set()
    finally:
        gate.set()
        NotificationConsumer._catch_up = original  # type: ignore[method-assign]
        await a.disconnect()
        await b.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_socket_that_ends_leaves_the_hub_and_its_tasks_end(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    alice = await sync_to_async(make_user)("alice")
    communicator, _ = await connect(application, alice)
    hub = transport.hub()
    [socket] = hub.sockets[protocol.user_group(alice.pk)]
    await anotify(alice, "one")
    await receive_frame(communicator)
    await communicator.disconnect()
    assert hub.sockets == {}
    assert isinstance(socket, NotificationConsumer)
    assert socket.drainer is None and not socket.queue


def test_a_lost_push_is_healed_by_the_sync_pass_without_a_reconnect(
    daphne_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = make_user("alice")
    daphne = daphne_factory(env=server_settings(SYNC_INTERVAL=0.5))
    with servers.ws_connect(daphne, daphne.login("alice", "alice")) as ws:
        assert servers.recv_json(ws)["type"] == "welcome"
        for _ in range(5):
            notify(alice, "burst")
        assert [seq_of(ws) for _ in range(5)] == [1, 2, 3, 4, 5]
        # The last push of the burst is lost on its way (Redis dropped it, say): nothing follows
        # that would show the gap to the socket.
        monkeypatch.setattr(delivery, "send", lambda messages: None)
        notify(alice, "lost", title="lost")
        frame = servers.recv_json(ws, timeout=10)
        assert (frame["notification"]["seq"], frame["notification"]["title"]) == (6, "lost")
        assert_silent(ws, 1.5)  # once: later passes find the socket up to date
    assert "Traceback" not in daphne.log()


@pytest.mark.slow
def test_when_the_subscription_comes_back_every_socket_syncs_without_a_reconnect(
    transactional_db: None, settings: Any
) -> None:
    with servers.redis_server() as redis_server:
        settings.CHANNEL_LAYERS = {"default": servers.redis_layer_config(redis_server.url)}
        alice, bob = make_user("alice"), make_user("bob")
        env = server_settings(SYNC_INTERVAL=600)  # the pass would come far too late
        with servers.daphne_server(redis_server.url, env=env) as daphne:
            sessions = servers.create_sessions([alice, alice, bob])
            with ExitStack() as stack:
                sockets = [stack.enter_context(servers.ws_connect(daphne, s)) for s in sessions]
                for ws in sockets:
                    assert servers.recv_json(ws)["type"] == "welcome"
                redis_server.stop()
                notify([alice, bob], "while Redis is down")  # logged, not raised; rows saved
                assert delivery.flush()
                redis_server.start()  # empty, and the daphne's subscription is gone
                for ws in sockets:
                    assert seq_of(ws, timeout=20) == 1
                notify([alice, bob], "live again")
                for ws in sockets:
                    assert seq_of(ws) == 2
            assert "Traceback" not in daphne.log()


@pytest.fixture
def two_redis_hosts() -> Iterator[tuple[servers.RedisServer, servers.RedisServer]]:
    with servers.redis_server() as first, servers.redis_server() as second:
        yield first, second


@pytest.mark.slow
def test_two_servers_and_two_redis_hosts_lose_nothing_and_a_dead_host_costs_only_its_users(
    transactional_db: None,
    settings: Any,
    two_redis_hosts: tuple[servers.RedisServer, servers.RedisServer],
) -> None:
    first_redis, second_redis = two_redis_hosts
    urls = f"{first_redis.url},{second_redis.url}"
    settings.CHANNEL_LAYERS = {"default": servers.redis_layer_config(urls)}
    users = make_users(24)
    on_host = {
        index: [u for u in users if transport.shard(protocol.user_group(u.pk), 2) == index]
        for index in (0, 1)
    }
    assert on_host[0] and on_host[1]
    env = server_settings(SYNC_INTERVAL=600)  # healing below comes from the resubscription
    with (
        servers.daphne_server(urls, env=env) as one,
        servers.daphne_server(urls, env=env) as two,
        ExitStack() as stack,
    ):
        # Every user has a socket on each server.
        sockets: dict[Any, list[Any]] = {}
        for user, session in zip(users, servers.create_sessions(users), strict=True):
            sockets[user.pk] = [
                stack.enter_context(servers.ws_connect(server, session)) for server in (one, two)
            ]
        everyone = [ws for pair in sockets.values() for ws in pair]
        for ws in everyone:
            assert servers.recv_json(ws)["type"] == "welcome"

        # A third process notifies one user of each host: both servers deliver.
        a, b = on_host[0][0], on_host[1][0]
        servers.manage(urls, "notify", a.username, b.username, "--verb", "deployed")
        for ws in [*sockets[a.pk], *sockets[b.pk]]:
            assert seq_of(ws) == 1

        # A broadcast from the third process to sockets spread over both servers loses nothing.
        servers.manage(urls, "notify", "--all", "--verb", "broadcast")
        for user in users:
            expected = 2 if user in (a, b) else 1
            for ws in sockets[user.pk]:
                assert seq_of(ws) == expected

        # The second Redis host dies: its users get nothing live, the others are unaffected.
        second_redis.stop()
        notify(users, "while host 2 is down")
        assert delivery.flush()
        for user in on_host[0]:
            for ws in sockets[user.pk]:
                assert seq_of(ws) == (3 if user == a else 2)
        for user in on_host[1]:
            for ws in sockets[user.pk]:
                assert_silent(ws, 0.2)
        # It comes back (empty): the servers resubscribe and its users catch up from the database.
        second_redis.start()
        for user in on_host[1]:
            for ws in sockets[user.pk]:
                assert seq_of(ws, timeout=20) == (3 if user == b else 2)
        for ws in everyone:
            assert_silent(ws, 0.05)  # and nothing twice
        assert "Traceback" not in one.log() + two.log()
