"""A CHANNEL_LAYERS entry for channels-redis with settings that avoid its known traps.

Usage in settings.py::

    from notifications.layers import redis_channel_layer

    CHANNEL_LAYERS = {"default": redis_channel_layer("redis://127.0.0.1:6379/0")}

This module imports nothing from Django's app registry, so settings may import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.exceptions
from channels_redis import core

# The numbers live in constants.py so that checks.py reads them without importing redis.
from notifications.constants import (
    GROUP_EXPIRY,
    MINIMUM_CAPACITY,
    RECOMMENDED_CAPACITY,
    REDIS_BLOCKING_SECONDS,
    REDIS_LAYER_BACKEND,
    REDIS_SOCKET_TIMEOUT,
)

__all__ = [
    "GROUP_EXPIRY",
    "MINIMUM_CAPACITY",
    "RECOMMENDED_CAPACITY",
    "REDIS_BLOCKING_SECONDS",
    "REDIS_SOCKET_TIMEOUT",
    "RedisChannelLayer",
    "redis_channel_layer",
]

# Moves a receive's backed-up messages back to the front of its queue (channels-redis's own script),
# then gives the queue the layer's expiry: a queue recreated here would otherwise never expire.
_RESTORE_BACKUP = """
    local backed_up = redis.call('ZRANGE', ARGV[2], 0, -1, 'WITHSCORES')
    for i = #backed_up, 1, -2 do
        redis.call('ZADD', ARGV[1], backed_up[i], backed_up[i - 1])
    end
    redis.call('DEL', ARGV[2])
    if #backed_up > 0 then
        redis.call('EXPIRE', ARGV[1], ARGV[3])
    end
"""


class RedisChannelLayer(core.RedisChannelLayer):  # type: ignore[misc]
    """channels-redis's core layer, whose in-flight backup of a received message expires.

    channels-redis keeps each message it takes from a queue in ``<channel>$inflight`` until the
    consumer has it, and restores it on that channel's next receive, so that a cancelled receive
    loses nothing. The key has no TTL: a server process killed in between (SIGKILL, OOM) never
    receives on its channel again, and the key stays in Redis for good. Here it is written with the
    layer's ``expiry``, in the same transaction; a message older than that is dropped by the layer
    anyway.
    """

    # channels-redis's own signature: receive_single() passes `timeout=` (BZPOPMIN's block time).
    async def _brpop_with_clean(self, index: int, channel: str, timeout: float) -> Any:  # noqa: ASYNC109
        backup = self._backup_channel_name(channel)
        connection = self.connection(index)
        await connection.eval(_RESTORE_BACKUP, 0, channel, backup, int(self.expiry))
        result = await connection.bzpopmin(channel, timeout=timeout)
        if result is None:
            return None
        _, member, timestamp = result
        async with connection.pipeline(transaction=True) as pipe:
            pipe.zadd(backup, {member: float(timestamp)})
            pipe.expire(backup, int(self.expiry))
            await pipe.execute()
        return member


def redis_channel_layer(
    url: str | Sequence[str],
    *,
    capacity: int = RECOMMENDED_CAPACITY,
    group_expiry: int = GROUP_EXPIRY,
    expiry: int = 60,
    prefix: str = "asgi",
    socket_timeout: float = REDIS_SOCKET_TIMEOUT,
    **host_options: Any,
) -> dict[str, Any]:
    """The CHANNEL_LAYERS entry for the Redis server at `url` (redis:// or rediss://), or several.

    With several URLs, channels-redis and the notifications fan-out both shard users over them by
    the same hash of the user's group name: every process must list them in the same order.

    ``group_expiry`` is five minutes, not channels-redis's 24 hours: a server process killed without
    leaving its groups (SIGKILL, OOM) leaves memberships that much longer, and every message sent to
    their users is queued for the dead process meanwhile. Sockets re-join every group_expiry / 2.
    The layer is ``RedisChannelLayer`` above: its in-flight backups expire too.
    """
    urls = [url] if isinstance(url, str) else list(url)
    return {
        "BACKEND": REDIS_LAYER_BACKEND,
        "CONFIG": {
            "hosts": [
                {
                    "address": address,
                    "socket_timeout": socket_timeout,
                    "socket_connect_timeout": 5,
                    "health_check_interval": 15,
                    # After a Redis restart the pool still holds connections to the old server: retry
                    # a command once, on a new connection, instead of failing (a consumer receiving on
                    # one would close its socket with 1011). Once only: while Redis is really down,
                    # sockets still close, and clients reconnect and catch up from the database.
                    "retry_on_error": [redis.exceptions.ConnectionError],
                    **host_options,
                }
                for address in urls
            ],
            "capacity": capacity,
            "group_expiry": group_expiry,
            "expiry": expiry,
            "prefix": prefix,
        },
    }
