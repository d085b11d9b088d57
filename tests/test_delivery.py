"""Live delivery from notify(): batched on one event loop, few Redis connections, never raising.

Over Redis the default is the fan-out (notifications/redis_fanout.py); the channel-layer path is tested
on the in-memory layer and on channels-redis with TRANSPORT = "layer".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from channels.layers import channel_layers, get_channel_layer
from django.contrib.auth import get_user_model
from django.db import connections

from notifications import anotify, delivery, notify, protocol, transport
from notifications.models import Notification
from tests.conftest import free_port, make_user, make_users
from tests.servers import counting_redis_connections, redis_layer_config

pytestmark = [pytest.mark.django_db(transaction=True)]


class SendSpy:
    """Wraps the layer's group_send: records the loop of every call and the most in flight."""

    def __init__(self, layer: Any) -> None:
        self.original = layer.group_send
        self.loops: list[asyncio.AbstractEventLoop] = []
        self.groups: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def __call__(self, group: str, message: dict[str, Any]) -> None:
        self.loops.append(asyncio.get_running_loop())
        self.groups.append(group)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)  # let every send of a batch start before any ends
            await self.original(group, message)
        finally:
            self.in_flight -= 1


@pytest.fixture
def send_spy(monkeypatch: pytest.MonkeyPatch) -> SendSpy:
    layer = get_channel_layer()
    spy = SendSpy(layer)
    monkeypatch.setattr(layer, "group_send", spy)
    return spy


@pytest.fixture
def blocked_callers(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every time the delivery module made a sync caller wait for an event loop (async_to_sync)."""
    import asgiref.sync

    calls: list[Any] = []
    original = asgiref.sync.AsyncToSync.__call__

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(self.awaitable, "__module__", "") == "notifications.delivery":
            calls.append(self.awaitable)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(asgiref.sync.AsyncToSync, "__call__", counting)
    return calls


@pytest.fixture(params=["memory", "redis-layer"])
def any_layer(request: pytest.FixtureRequest, settings: Any) -> str:
    """The group_send path: the in-memory layer, and channels-redis told to carry delivery."""
    if request.param == "redis-layer":
        request.getfixturevalue("redis_layer")
    else:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return str(request.param)


@pytest.fixture
def concurrency(settings: Any, any_layer: str) -> int:
    settings.NOTIFICATIONS = {"PUBLISH_CONCURRENCY": 50}
    if any_layer == "redis-layer":
        settings.NOTIFICATIONS["TRANSPORT"] = "layer"
    return 50


def test_fan_out_from_sync_code_runs_in_batches_on_one_publisher_loop(
    any_layer: str, concurrency: int, send_spy: SendSpy, blocked_callers: list[Any]
) -> None:
    users = make_users(300)
    notify(get_user_model().objects.all(), "broadcast")
    assert delivery.flush()
    assert sorted(send_spy.groups) == sorted(protocol.user_group(u.pk) for u in users)
    assert {id(loop) for loop in send_spy.loops} == {id(delivery._publisher.get())}
    assert send_spy.max_in_flight == concurrency
    assert blocked_callers == []  # no event loop started per send, nor per call


async def test_fan_out_from_a_server_thread_runs_on_the_server_loop(
    any_layer: str, concurrency: int, send_spy: SendSpy, blocked_callers: list[Any]
) -> None:
    from asgiref.sync import sync_to_async

    await sync_to_async(make_users)(120)
    # anotify runs notify() in a thread of this loop, as a view under daphne does.
    await anotify(await sync_to_async(list)(get_user_model().objects.all()), "broadcast")
    assert await sync_to_async(delivery.flush)()
    assert len(send_spy.groups) == 120
    assert {id(loop) for loop in send_spy.loops} == {id(asyncio.get_running_loop())}
    assert send_spy.max_in_flight == concurrency
    assert blocked_callers == []  # queued to the server loop: the view's thread does not wait


async def test_concurrent_fan_outs_on_one_server_loop_share_the_send_limit(
    any_layer: str,
    concurrency: int,
    send_spy: SendSpy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from asgiref.sync import sync_to_async

    from notifications.api import notify as notify_sync

    users = await sync_to_async(make_users)(300)

    def broadcast() -> None:
        try:
            notify_sync(users, "broadcast")
        finally:
            connections.close_all()  # this thread's own connection

    # Three views broadcasting at once under one daphne: without a shared limit they put 3 x the
    # concurrency in flight and exhaust redis-py's pool (100 connections: MaxConnectionsError).
    with caplog.at_level(logging.WARNING, logger="notifications.delivery"):
        await asyncio.gather(
            *(sync_to_async(broadcast, thread_sensitive=False)() for _ in range(3))
        )
        assert await sync_to_async(delivery.flush)()
    assert [r.getMessage() for r in caplog.records if r.name == "notifications.delivery"] == []
    assert len(send_spy.groups) == 900
    assert send_spy.max_in_flight == concurrency


class FanoutListener:
    """A subscriber to the project's fan-out channel, as a server process is."""

    def __init__(self, redis_url: str) -> None:
        fanout = transport.redis_fanout()
        assert fanout is not None
        self.client = redis.Redis.from_url(redis_url)
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(fanout.channel)
        assert self.pubsub.get_message(timeout=5) is None  # the subscription is confirmed

    def batches(self, count: int) -> list[list[delivery.Message]]:
        found = []
        while len(found) < count:
            message = self.pubsub.get_message(timeout=5)
            assert message is not None, f"{len(found)} of {count} PUBLISHes arrived"
            found.append(protocol.unpack_fanout(message["data"]))
        assert self.pubsub.get_message(timeout=0.2) is None
        return found

    def pushes(self, count: int) -> list[dict[str, Any]]:
        """The next `count` messages, however many PUBLISHes carried them."""
        found: list[dict[str, Any]] = []
        while len(found) < count:
            message = self.pubsub.get_message(timeout=5)
            assert message is not None, f"{len(found)} of {count} messages arrived"
            found += [m for _, m in protocol.unpack_fanout(message["data"])]
        assert len(found) == count and self.pubsub.get_message(timeout=0.2) is None
        return found

    def close(self) -> None:
        self.pubsub.close()
        self.client.close()


@pytest.fixture
def listener(redis_layer: dict[str, Any], redis_url: str) -> Iterator[FanoutListener]:
    subscriber = FanoutListener(redis_url)
    yield subscriber
    subscriber.close()


@pytest.fixture
def pipelines(monkeypatch: pytest.MonkeyPatch) -> list[asyncio.AbstractEventLoop]:
    """The loop of every pipeline the fan-out executes (one per Redis host per send)."""
    from redis.asyncio.client import Pipeline

    loops: list[asyncio.AbstractEventLoop] = []
    original = Pipeline.execute

    async def execute(self: Pipeline, *args: Any, **kwargs: Any) -> Any:
        loops.append(asyncio.get_running_loop())
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "execute", execute)
    return loops


@pytest.mark.redis
def test_a_broadcast_over_redis_is_one_pipeline_of_publishes_of_500(
    listener: FanoutListener,
    pipelines: list[asyncio.AbstractEventLoop],
    blocked_callers: list[Any],
) -> None:
    users = make_users(1200)
    created = notify(get_user_model().objects.all(), "broadcast")
    batches = listener.batches(3)
    assert [len(b) for b in batches] == [500, 500, 200]
    pushes = [message for batch in batches for message in batch]
    by_user = {n.recipient_id: n for n in created}
    expected = [
        (
            protocol.user_group(u.pk),
            protocol.push_message(by_user[u.pk].seq, protocol.notification_frame(by_user[u.pk])),
        )
        for u in users
    ]
    assert sorted(pushes, key=str) == sorted(expected, key=str)  # each user's, once
    assert [id(loop) for loop in pipelines] == [id(delivery._publisher.get())]  # one round trip
    assert blocked_callers == []


@pytest.mark.redis
async def test_a_broadcast_over_redis_from_a_server_thread_runs_on_the_server_loop(
    listener: FanoutListener,
    pipelines: list[asyncio.AbstractEventLoop],
    blocked_callers: list[Any],
) -> None:
    from asgiref.sync import sync_to_async

    users = await sync_to_async(make_users)(120)
    await anotify(users, "broadcast")
    [batch] = await sync_to_async(listener.batches)(1)
    assert len(batch) == 120
    assert [id(loop) for loop in pipelines] == [id(asyncio.get_running_loop())]
    assert blocked_callers == []


@pytest.mark.redis
async def test_concurrent_broadcasts_on_one_server_loop_wait_for_a_bounded_pool(
    listener: FanoutListener, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from asgiref.sync import sync_to_async

    from notifications.api import notify as notify_sync

    # redis-py's default pool raises past its size; the fan-out's pool waits instead.
    settings.NOTIFICATIONS = {"PUBLISH_CONCURRENCY": 2}
    users = await sync_to_async(make_users)(50)

    def broadcast() -> None:
        try:
            notify_sync(users, "broadcast")
        finally:
            connections.close_all()

    with (
        counting_redis_connections() as opened,
        caplog.at_level(logging.WARNING, logger="notifications"),
    ):
        await asyncio.gather(
            *(sync_to_async(broadcast, thread_sensitive=False)() for _ in range(8))
        )
        assert await sync_to_async(delivery.flush)()
    assert [r.getMessage() for r in caplog.records] == []
    assert len(opened) <= 2
    # Broadcasts queued while one is being published leave together: 400 pushes, 1 to 8 PUBLISHes.
    assert len(await sync_to_async(listener.pushes)(400)) == 400


@pytest.mark.redis
def test_single_notify_calls_from_sync_code_reuse_a_few_redis_connections(
    listener: FanoutListener,
) -> None:
    alice = make_user("alice")
    with counting_redis_connections() as opened:
        for i in range(200):
            notify(alice, "single", title=str(i))
        assert delivery.flush()
    # A naive async_to_sync(group_send) per call opens one connection per call (200 here); the
    # fan-out's pool may even be open already, from an earlier send of this process.
    assert len(opened) <= 2
    # Calls made while a publish is in flight leave together, in order.
    assert [push["seq"] for push in listener.pushes(200)] == list(
        range(1, 201)
    )  # and every one was sent


@pytest.mark.redis
def test_sends_right_after_a_publish_leave_together_without_waking_the_publisher(
    listener: FanoutListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A wake-up from the caller's thread is a GIL hand-over to the publisher thread: a sender that
    # calls notify() in a loop pays for one per publish, not one per call.
    monkeypatch.setattr(delivery, "LINGER", 2.0)  # the 2 ms of production, stretched for the test
    alice = make_user("alice")
    loop = delivery._publisher.get()
    assert delivery.flush()
    wakes: list[Any] = []
    original = loop.call_soon_threadsafe

    def counting(callback: Any, *args: Any, **kwargs: Any) -> Any:
        wakes.append(callback)
        return original(callback, *args, **kwargs)

    monkeypatch.setattr(loop, "call_soon_threadsafe", counting)
    notify(alice, "first")
    [[(_, first)]] = listener.batches(1)
    for i in range(5):
        notify(alice, "next", title=str(i))
    [batch] = listener.batches(1)  # one publish, in order
    assert [first["seq"]] + [push["seq"] for _, push in batch] == [1, 2, 3, 4, 5, 6]
    assert len(wakes) == 1
    assert delivery.flush()
    notify(alice, "later")  # the publisher went idle: the next send wakes it at once
    [[(_, later)]] = listener.batches(1)
    assert later["seq"] == 7 and len(wakes) == 2


@pytest.mark.redis
def test_redis_down_never_raises_and_the_publisher_loop_survives(
    listener: FanoutListener, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    alice = make_user("alice")
    notify(alice, "before")  # the publisher loop is up
    listener.batches(1)
    loop = delivery._publisher.get()
    working = settings.CHANNEL_LAYERS
    settings.CHANNEL_LAYERS = {
        "default": redis_layer_config(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens
    }
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="notifications"):
        created = notify(alice, "while down")
        assert delivery.flush()
    assert time.monotonic() - start < 10
    assert [r.name for r in caplog.records] == ["notifications.delivery"]
    assert Notification.objects.get(pk=created[0].pk).seq == 2  # the row is saved

    settings.CHANNEL_LAYERS = working
    notify(alice, "after")
    assert delivery._publisher.get() is loop and loop.is_running()  # the same loop carries on
    [[(_, push)]] = listener.batches(1)
    assert push["seq"] == 3


@pytest.fixture(autouse=True)
def _fresh_layers() -> Iterator[None]:
    yield
    channel_layers.backends.clear()
