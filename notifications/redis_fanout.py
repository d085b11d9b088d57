"""Live delivery between processes, the sending side: one Redis pub/sub channel per project.

A sender packs up to ``protocol.FANOUT_BATCH`` (group, message) pairs into one PUBLISH, pipelined, on
the Redis host that owns each group. Every server process subscribes once per host and hands each pair
to the sockets of that group it holds (``hub.Hub``): no Redis round trip per delivered message, and no
channel-layer membership to join, refresh or leak.

The hosts are those of the ``CHANNEL_LAYER`` entry when it is channels-redis (one Redis configured
once); a group lives on the host channels-redis would put it on, so with several hosts the layer, the
senders and the servers agree. Any other layer (in-memory, or ``TRANSPORT = "layer"``) delivers
through ``group_send`` instead (see delivery.py), slower.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
import weakref
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django.conf import settings

from notifications import protocol
from notifications.conf import app_settings
from notifications.constants import REDIS_LAYER_BACKEND

if TYPE_CHECKING:
    import redis.asyncio as aioredis

# Sending is delivery's business: its failures are logged where the channel layer's are.
send_logger = logging.getLogger("notifications.delivery")

Message = tuple[str, dict[str, Any]]

# SYNC_INTERVAL = None: the slow pass heals what Redis lost; the fast one is the only way a
# notification created in another process reaches a socket when the layer is in-memory.
SYNC_INTERVAL = 10.0
LOCAL_SYNC_INTERVAL = 1.5


@dataclass(frozen=True)
class RedisFanout:
    """The Redis hosts (connection keyword arguments) and the pub/sub channel of this project."""

    hosts: tuple[tuple[tuple[str, Any], ...], ...]
    channel: str

    def shard(self, group: str) -> int:
        return shard(group, len(self.hosts))

    def client(self, index: int, **overrides: Any) -> aioredis.Redis:
        # Imported here, not at the top: a project whose layer is not channels-redis never loads redis.
        import redis.asyncio as aioredis

        options = dict(self.hosts[index])
        url = options.pop("url")
        options.update(overrides)
        pool_class = options.pop("pool_class", aioredis.ConnectionPool)
        pool = pool_class.from_url(url, **options)
        return aioredis.Redis(connection_pool=pool)


def shard(group: str, ring_size: int) -> int:
    """The host of a group: channels-redis's own consistent hash, so the layer agrees."""
    if ring_size == 1:
        return 0
    bigval = binascii.crc32(group.encode("utf8")) & 0xFFF
    return int(bigval / (4096 / float(ring_size)))


def layer_config() -> dict[str, Any]:
    config: dict[str, Any] = (getattr(settings, "CHANNEL_LAYERS", None) or {}).get(
        app_settings.CHANNEL_LAYER
    ) or {}
    return config


def redis_fanout() -> RedisFanout | None:
    """The Redis fan-out of the configured layer, or None when the layer itself carries delivery."""
    if app_settings.TRANSPORT == "layer":
        return None
    config = layer_config()
    backend = str(config.get("BACKEND", ""))
    if not (backend.startswith("channels_redis.") or backend == REDIS_LAYER_BACKEND):
        return None
    options = config.get("CONFIG") or {}
    hosts = [_host_options(host) for host in options.get("hosts") or [("localhost", 6379)]]
    if any(host is None for host in hosts):
        return None  # Sentinel: left to the layer
    prefix = str(options.get("prefix", "asgi"))
    return RedisFanout(
        tuple(tuple(sorted(h.items())) for h in hosts if h is not None),
        protocol.fanout_channel(prefix),
    )


def _host_options(host: Any) -> dict[str, Any] | None:
    # The host formats channels-redis accepts: a URL, (host, port), or a dict with "address".
    if isinstance(host, str):
        return {"url": host}
    if isinstance(host, list | tuple):
        return {"url": f"redis://{quote(str(host[0]))}:{int(host[1])}"}
    if isinstance(host, dict):
        if "master_name" in host or "sentinels" in host:
            return None
        options = dict(host)
        address = options.pop("address", None)
        if isinstance(address, list | tuple):
            address = f"redis://{quote(str(address[0]))}:{int(address[1])}"
        if address is None:
            address = f"redis://{options.pop('host', 'localhost')}:{options.pop('port', 6379)}"
        options["url"] = address
        return options
    raise TypeError(f"Unsupported channels-redis host: {host!r}")


def is_local_only() -> bool:
    """True when the configured layer cannot reach other processes (in-memory)."""
    return str(layer_config().get("BACKEND", "")).endswith("InMemoryChannelLayer")


def sync_interval() -> float:
    configured = app_settings.SYNC_INTERVAL
    if configured is not None:
        return float(configured)
    if redis_fanout() is None and is_local_only():
        return LOCAL_SYNC_INTERVAL
    return SYNC_INTERVAL


class _Publisher:
    """One blocking connection pool per host on one event loop (waits, never raises, when full)."""

    def __init__(self, fanout: RedisFanout) -> None:
        import redis.asyncio as aioredis

        self.fanout = fanout
        self.clients: list[aioredis.Redis] = []
        for index, host in enumerate(fanout.hosts):
            self.clients.append(
                fanout.client(
                    index,
                    pool_class=aioredis.BlockingConnectionPool,
                    max_connections=dict(host).get(
                        "max_connections", app_settings.PUBLISH_CONCURRENCY
                    ),
                    timeout=app_settings.PUBLISH_TIMEOUT,
                )
            )

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.clients), return_exceptions=True)


_publishers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Publisher] = (
    weakref.WeakKeyDictionary()
)


async def _publisher(fanout: RedisFanout) -> _Publisher:
    loop = asyncio.get_running_loop()
    current = _publishers.get(loop)
    if current is None or current.fanout != fanout:
        if current is not None:  # settings changed (tests): the old pools go
            await current.aclose()
        else:
            # Imported here: the hub, which closes the pools with its loop, imports this module.
            from notifications.hub import close_with_loop

            close_with_loop(loop)
        current = _Publisher(fanout)
        _publishers[loop] = current
    return current


async def publish(fanout: RedisFanout, messages: Sequence[Message]) -> None:
    """PUBLISH the messages, packed, each host's batches in one pipeline; log failures, never raise."""
    by_host: dict[int, list[Message]] = defaultdict(list)
    for group, message in messages:
        by_host[fanout.shard(group)].append((group, message))
    publisher = await _publisher(fanout)
    timeout = app_settings.PUBLISH_TIMEOUT

    async def send_host(index: int, pairs: list[Message]) -> None:
        pipe = publisher.clients[index].pipeline(transaction=False)
        for start in range(0, len(pairs), protocol.FANOUT_BATCH):
            pipe.publish(
                fanout.channel, protocol.pack_fanout(pairs[start : start + protocol.FANOUT_BATCH])
            )
        await asyncio.wait_for(pipe.execute(), timeout)

    hosts = sorted(by_host)
    results = await asyncio.gather(
        *(send_host(index, by_host[index]) for index in hosts), return_exceptions=True
    )
    for index, result in zip(hosts, results, strict=True):
        if isinstance(result, Exception):
            send_logger.warning(
                "Live delivery failed on Redis host %d (%s: %s); %d of %d messages not sent. "
                "Their sockets catch up from the database.",
                index,
                type(result).__name__,
                result,
                len(by_host[index]),
                len(messages),
            )
        elif isinstance(result, BaseException):
            raise result
