"""Ours, configured as README.md tells a user: the demo project's settings, channels-redis through
``notifications.layers.redis_channel_layer()``. Environment: DATABASE_URL (sqlite://), BENCH_REDIS_URL.

Only what a production deployment sets differs from the demo: DEBUG off, and a key prefix of its own so
that nothing else on the shared Redis (other runs, other projects) can reach the benchmark's sockets.
"""

import os

from notifications.layers import redis_channel_layer
from project.settings import *  # noqa: F403

DEBUG = False
CHANNEL_LAYERS = {
    "default": redis_channel_layer(os.environ["BENCH_REDIS_URL"], prefix="bench-ours")
}
