"""Settings of the notifications app: one namespaced dict, ``settings.NOTIFICATIONS``.

Usage::

    from notifications.conf import app_settings

    app_settings.CATCH_UP_LIMIT

Every key is optional; ``DEFAULTS`` documents them. Values are read lazily, cached, and the cache is
cleared on ``setting_changed`` so ``override_settings`` works in tests.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from notifications.exceptions import NotificationsImproperlyConfigured

DEFAULTS: dict[str, Any] = {
    # Which CHANNEL_LAYERS alias carries live delivery.
    "CHANNEL_LAYER": "default",
    # Most notifications replayed on connect or `sync`; a client further behind gets `reset`.
    "CATCH_UP_LIMIT": 200,
    # Client frames larger than this close the socket with code 1009.
    "MAX_FRAME_BYTES": 16 * 1024,
    # Most ids in one mark_read / delete command (frame or HTTP call).
    "MAX_IDS": 500,
    # Client frames allowed per second (sustained) and in a burst, per socket.
    "RATE_LIMIT_PER_SECOND": 10.0,
    "RATE_LIMIT_BURST": 40,
    # Frames refused with `rate_limited` before the socket is closed with 1008.
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
    # gc.freeze() and higher GC thresholds in a server process when its first socket opens.
    "GC_TUNING": True,
    # Page size of the JSON list, and its maximum.
    "PAGE_SIZE": 20,
    "MAX_PAGE_SIZE": 100,
}


class AppSettings:
    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown NOTIFICATIONS setting: {name!r}")
        return _merged()[name]


@cache
def _merged() -> dict[str, Any]:
    user = getattr(settings, "NOTIFICATIONS", {}) or {}
    if not isinstance(user, dict):
        raise NotificationsImproperlyConfigured("settings.NOTIFICATIONS must be a dict.")
    unknown = sorted(set(user) - set(DEFAULTS))
    if unknown:
        raise NotificationsImproperlyConfigured(
            f"Unknown NOTIFICATIONS key(s): {', '.join(unknown)}. "
            f"Known keys: {', '.join(sorted(DEFAULTS))}."
        )
    return {**DEFAULTS, **user}


app_settings = AppSettings()


@receiver(setting_changed)
def _clear_cache(*, setting: str, **kwargs: Any) -> None:
    if setting in {"NOTIFICATIONS", "CHANNEL_LAYERS"}:
        _merged.cache_clear()
