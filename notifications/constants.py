"""Constants shared by the model, the API and the wire protocol, and the channels-redis numbers that
layers.py configures and checks.py verifies (here, so that checks.py needs no redis import)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.TextChoices):
    INFO = "info", _("Info")
    SUCCESS = "success", _("Success")
    WARNING = "warning", _("Warning")
    ERROR = "error", _("Error")


VERB_MAX_LENGTH = 255
TITLE_MAX_LENGTH = 255
URL_MAX_LENGTH = 2048
CATEGORY_MAX_LENGTH = 64
DISPLAY_MAX_LENGTH = 255
PUSH_ENDPOINT_MAX_LENGTH = 1024
GROUP_KEY_MAX_LENGTH = 128
#: The most actors a grouped notification keeps (the newest first).
GROUP_ACTORS = 5

#: The delivery channels a category and a user's preferences name (a backend's ``name``).
IN_APP, PUSH, EMAIL = "in_app", "push", "email"
CHANNELS = (IN_APP, PUSH, EMAIL)


def is_category_key(value: str) -> bool:
    """A category key: 1 to CATEGORY_MAX_LENGTH ASCII letters, digits, '_', '.', ':' or '-'."""
    return 0 < len(value) <= CATEGORY_MAX_LENGTH and _is_key(value)


def is_group_key(value: str) -> bool:
    """A group key ("post:42:comments"): 1 to GROUP_KEY_MAX_LENGTH characters, as a category key."""
    return 0 < len(value) <= GROUP_KEY_MAX_LENGTH and _is_key(value)


def _is_key(value: str) -> bool:
    return all(ch.isascii() and (ch.isalnum() or ch in "_.:-") for ch in value)


# The layer redis_channel_layer() configures: channels-redis's core layer, with in-flight backups
# that expire (layers.RedisChannelLayer). Named here so that checks.py and transport.py know it
# without importing it.
REDIS_LAYER_BACKEND = "notifications.layers.RedisChannelLayer"
# channels-redis blocks on Redis reads for up to this many seconds (RedisChannelLayer.brpop_timeout).
REDIS_BLOCKING_SECONDS = 5
# Above the blocking read, so redis-py never times out an idle server's read (close 1011 on daphne).
REDIS_SOCKET_TIMEOUT = 30
# One Redis list per server process holds the messages of all its sockets: size it for bursts.
RECOMMENDED_CAPACITY = 10_000
MINIMUM_CAPACITY = 1_000
# Memberships of sockets whose process died without leaving its groups (SIGKILL, a crash) last this
# long: the consumers re-join well inside it (every group_expiry / 2).
GROUP_EXPIRY = 300
# A longer group_expiry keeps a dead process's memberships (and the messages queued for them) that long.
LONG_GROUP_EXPIRY = 900
