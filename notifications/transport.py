"""Live delivery between processes: one Redis pub/sub subscription per server process.

The sending side (the hosts, the shard of a group, PUBLISH) is redis_fanout.py; the receiving side
(one hub per server event loop: the subscriptions, the sync pass, the session checks) is hub.py. This
module keeps their names importable from one place.
"""

from notifications.gc_tuning import GC_THRESHOLDS, tune_gc
from notifications.hub import (
    DEAD_AFTER,
    PING_AFTER,
    RECONNECT_DELAYS,
    REVALIDATE_BATCH_WAIT,
    SESSION_GRACE,
    SUBSCRIBE_WAIT,
    SYNC_CHUNK,
    Hub,
    Socket,
    hub,
    hubs,
)
from notifications.redis_fanout import (
    LOCAL_SYNC_INTERVAL,
    SYNC_INTERVAL,
    Message,
    RedisFanout,
    is_local_only,
    layer_config,
    publish,
    redis_fanout,
    shard,
    sync_interval,
)

__all__ = [
    "DEAD_AFTER",
    "GC_THRESHOLDS",
    "LOCAL_SYNC_INTERVAL",
    "PING_AFTER",
    "RECONNECT_DELAYS",
    "REVALIDATE_BATCH_WAIT",
    "SESSION_GRACE",
    "SUBSCRIBE_WAIT",
    "SYNC_CHUNK",
    "SYNC_INTERVAL",
    "Hub",
    "Message",
    "RedisFanout",
    "Socket",
    "hub",
    "hubs",
    "is_local_only",
    "layer_config",
    "publish",
    "redis_fanout",
    "shard",
    "sync_interval",
    "tune_gc",
]
