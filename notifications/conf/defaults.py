"""The keys of ``settings.NOTIFICATIONS``: each one's default (``DEFAULTS``) and type
(``NotificationsSettings``), which is its rule (values.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from notifications.conf.values import Category, ProjectKey
from notifications.conf.web_push import WebPushSettings

# Each key here also has a typed field in NotificationsSettings below (a test keeps the two equal).
DEFAULTS: dict[str, Any] = {
    # Which CHANNEL_LAYERS alias carries live delivery.
    "CHANNEL_LAYER": "default",
    # A digest of it is in the group names, so projects sharing one Redis database never get each
    # other's pushes. None: SECRET_KEY. Set it to keep groups stable across a key rotation.
    "PROJECT_KEY": None,
    # Most notifications replayed on connect or `sync`; a client further behind gets `reset`.
    "CATCH_UP_LIMIT": 200,
    # Client frames larger than this close the socket with code 4009.
    "MAX_FRAME_BYTES": 16 * 1024,
    # Most ids in one mark_read / delete command (frame or HTTP call).
    "MAX_IDS": 500,
    # Client frames allowed per second (sustained) and in a burst, per socket.
    "RATE_LIMIT_PER_SECOND": 10.0,
    "RATE_LIMIT_BURST": 40,
    # Frames refused with `rate_limited` before the socket is closed with 4008.
    "RATE_LIMIT_STRIKES": 20,
    # Seconds between re-joins of the user's group, so sockets outlive the layer's group_expiry.
    # None: half the layer's group_expiry, at most five minutes. Each re-join also catches up from the
    # database, which repairs what a Redis restart (lost memberships) or a dropped message cost.
    "GROUP_REFRESH_INTERVAL": None,
    # Users per INSERT when notifying many recipients.
    "BATCH_SIZE": 1000,
    # Group sends in flight at once per event loop, shared by concurrent fan-outs. Keep it under the
    # Redis pool's max_connections (redis-py: 100), which raises instead of waiting when exhausted.
    "PUBLISH_CONCURRENCY": 64,
    # Seconds a publish may take before it is abandoned (the database still has the rows).
    "PUBLISH_TIMEOUT": 5.0,
    # "auto": live delivery over one Redis pub/sub subscription per server process, on the hosts of the
    # CHANNEL_LAYER when it is channels-redis (else through the layer). "layer": always group_send.
    "TRANSPORT": "auto",
    # Seconds between a server process's checks of its sockets against the database (one query), which
    # heal a lost push. None: 10 s, or 1.5 s when the layer cannot cross processes (in-memory).
    "SYNC_INTERVAL": None,
    # Seconds between a server process's checks of the sessions of its sockets (two queries for all of
    # them): a socket whose session ended is closed with 4401. Changes made through the ORM (a password
    # change, deactivation, logout, a deleted session) close the sockets within a second anyway.
    "SESSION_CHECK_INTERVAL": 60.0,
    # Bytes of frames a socket may have waiting to be sent (a client that stopped reading) before it is
    # closed with 4001; it catches up when it reconnects. Keep it above a full catch-up.
    "MAX_BACKLOG_BYTES": 1024 * 1024,
    # Sockets one user may have open at once, counted across every server process (presence.py); the
    # next one is accepted, then closed with 4029. None: no cap. Sockets of a process killed without
    # closing them count until their rows expire (presence.EXPIRY, three minutes).
    "MAX_CONNECTIONS_PER_USER": 20,
    # gc.freeze() and higher GC thresholds in a server process when its first socket opens.
    "GC_TUNING": True,
    # Page size of the JSON list, and its maximum.
    "PAGE_SIZE": 20,
    "MAX_PAGE_SIZE": 100,
    # Delivery channels run after commit, in order, each isolated from the others' failures: dotted
    # paths of notifications.backends.base.DeliveryBackend subclasses (docs/preferences.md).
    "BACKENDS": (
        "notifications.backends.live.LiveBackend",
        "notifications.backends.push.PushBackend",
        "notifications.backends.email.EmailBackend",
    ),
    # {"<category>": {"label": ..., "in_app": bool, "push": bool, "email": bool}}: each category's
    # label and default per channel, which each user may change. A category not declared is always on.
    "CATEGORIES": {},
    # Seconds an unread notification waits before an email digest lists it.
    "EMAIL_DIGEST_DELAY": 1800.0,
    # Absolute base of the links in emails ("https://example.com"); None: emails carry paths only.
    "EMAIL_BASE_URL": None,
    # Web Push (docs/push.md): {"VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY", "SUBJECT"} and optionally
    # "TIMEOUT", "TTL", "MAX_ATTEMPTS", "RETRY_DELAY", "ICON" (WEB_PUSH_DEFAULTS). Off while a key is missing.
    "WEB_PUSH": None,
    # What the bell's badge counts: "unread" notifications, or "unseen" ones (not yet shown in an
    # open dropdown, the GitHub habit). {% notifications_bell badge="..." %} overrides it per bell.
    "BADGE": "unread",
}


@dataclass(frozen=True, slots=True)
class NotificationsSettings:
    """The validated values of ``settings.NOTIFICATIONS``, one field per key of ``DEFAULTS``.

    A field's type is its rule: ``str`` is a non-empty string, ``int`` a positive integer, ``float`` a
    positive number (an int is converted), ``int | None`` and ``float | None`` that or None, ``bool`` True or False, a
    ``Literal`` one of its values, ``str | None`` an http(s) URL or None, ``ProjectKey | None`` a
    non-empty string or None, ``tuple[str, ...]`` a list of dotted paths, ``dict[str, Category]`` the
    categories; ``WEB_PUSH`` is None (Web Push off) until its three required keys are all set.
    """

    CHANNEL_LAYER: str
    PROJECT_KEY: ProjectKey | None
    CATCH_UP_LIMIT: int
    MAX_FRAME_BYTES: int
    MAX_IDS: int
    RATE_LIMIT_PER_SECOND: float
    RATE_LIMIT_BURST: int
    RATE_LIMIT_STRIKES: int
    GROUP_REFRESH_INTERVAL: float | None
    BATCH_SIZE: int
    PUBLISH_CONCURRENCY: int
    PUBLISH_TIMEOUT: float
    TRANSPORT: Literal["auto", "layer"]
    SYNC_INTERVAL: float | None
    SESSION_CHECK_INTERVAL: float
    MAX_BACKLOG_BYTES: int
    MAX_CONNECTIONS_PER_USER: int | None
    GC_TUNING: bool
    PAGE_SIZE: int
    MAX_PAGE_SIZE: int
    BACKENDS: tuple[str, ...]
    CATEGORIES: dict[str, Category]
    EMAIL_DIGEST_DELAY: float
    EMAIL_BASE_URL: str | None
    WEB_PUSH: WebPushSettings | None
    BADGE: Literal["unread", "unseen"]
