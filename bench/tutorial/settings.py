"""Settings of the tutorial-style app. Environment: DATABASE_URL (sqlite://), BENCH_REDIS_URL.

The channel layer is channels-redis's core layer with its defaults, except two things it needs here:
the Redis URL (a database of its own) with a key prefix, and a ``socket_timeout`` above the layer's 5 s
blocking read (redis-py 8 defaults to 5 s: an idle consumer's read times out and daphne closes the
socket with 1011, so the app would not survive the benchmark's idle pauses). The SQLite options are
ours (``project.settings.SQLITE_OPTIONS``: WAL, synchronous=NORMAL), so both apps pay the same commit cost.
"""

import os

import dj_database_url

from project.settings import SQLITE_OPTIONS

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "bench-tutorial-only")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "channels",
    "bench.tutorial",
]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.tutorial.urls"
ASGI_APPLICATION = "bench.tutorial.asgi.application"

DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
DATABASES["default"]["OPTIONS"] = SQLITE_OPTIONS

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [{"address": os.environ["BENCH_REDIS_URL"], "socket_timeout": 30}],
            "prefix": "bench-tutorial",
        },
    }
}

USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
