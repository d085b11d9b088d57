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

# The numbers live in constants.py so that checks.py reads them without importing redis.
from notifications.constants import (
    GROUP_EXPIRY,
    MINIMUM_CAPACITY,
    RECOMMENDED_CAPACITY,
    REDIS_BLOCKING_SECONDS,
    REDIS_SOCKET_TIMEOUT,
)

__all__ = [
    "GROUP_EXPIRY",
    "MINIMUM_CAPACITY",
    "RECOMMENDED_CAPACITY",
    "REDIS_BLOCKING_SECONDS",
    "REDIS_SOCKET_TIMEOUT",
    "redis_channel_layer",
]


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
    """
    urls = [url] if isinstance(url, str) else list(url)
    return {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
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
