"""The channels-redis layer of redis_channel_layer(): nothing it writes to Redis outlives its expiry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from notifications.layers import RedisChannelLayer, redis_channel_layer
from tests.conftest import REDIS_PREFIX

pytestmark = [pytest.mark.redis]

EXPIRY = 30


@pytest.fixture
async def layer(redis_url: str) -> AsyncIterator[Any]:
    config = redis_channel_layer(redis_url, prefix=REDIS_PREFIX, expiry=EXPIRY)
    assert config["BACKEND"] == "notifications.layers.RedisChannelLayer"
    instance = RedisChannelLayer(**config["CONFIG"])
    yield instance
    await instance.flush()


async def test_a_message_taken_by_a_process_that_dies_leaves_a_backup_that_expires(
    layer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "notifications.frame", "frame": "{}"})
    # The process dies after taking the message and before dropping its backup.
    monkeypatch.setattr(layer, "_clean_receive_backup", lambda index, channel: _nothing())
    assert (await layer.receive(channel))["type"] == "notifications.frame"
    backup = f"{REDIS_PREFIX}{channel.split('!')[0]}!$inflight"
    client = layer.connection(0)
    assert await client.zcard(backup) == 1
    assert 0 < await client.ttl(backup) <= EXPIRY  # channels-redis's own: -1, for ever


async def test_a_backed_up_message_is_restored_on_the_next_receive(layer: Any) -> None:
    channel = await layer.new_channel()
    queue = f"{REDIS_PREFIX}{channel.split('!')[0]}!"
    message = {"type": "notifications.frame", "frame": "again"}
    client: aioredis.Redis = layer.connection(0)
    backed_up = layer.serialize({**message, "__asgi_channel__": channel})
    await client.zadd(f"{queue}$inflight", {backed_up: 1.0})
    assert await layer.receive(channel) == message


async def _nothing() -> None:
    return None
