"""Settings of the notifications app: one namespaced dict, ``settings.NOTIFICATIONS``.

Usage::

    from notifications.conf import app_settings

    app_settings.CATCH_UP_LIMIT  # an int, validated

Every key is optional; ``DEFAULTS`` documents them and ``NotificationsSettings`` types them. The user's
dict is merged over the defaults, validated and converted once into a frozen ``NotificationsSettings``
on first use; the result is cached, and the cache is cleared on ``setting_changed`` so
``override_settings`` works in tests. A broken setting raises ``NotificationsImproperlyConfigured``
when first read; the system checks (checks.py) report the same problems at start-up, with ids.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, NamedTuple, cast

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from notifications.exceptions import NotificationsImproperlyConfigured

# Each key here also has a typed field in NotificationsSettings below (a test keeps the two equal).
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
    # Seconds between a server process's checks of the sessions of its sockets (two queries for all of
    # them): a socket whose session ended is closed with 4401. Changes made through the ORM (a password
    # change, deactivation, logout, a deleted session) close the sockets within a second anyway.
    "SESSION_CHECK_INTERVAL": 60.0,
    # Bytes of frames a socket may have waiting to be sent (a client that stopped reading) before it is
    # closed with 4001; it catches up when it reconnects. Keep it above a full catch-up.
    "MAX_BACKLOG_BYTES": 1024 * 1024,
    # gc.freeze() and higher GC thresholds in a server process when its first socket opens.
    "GC_TUNING": True,
    # Page size of the JSON list, and its maximum.
    "PAGE_SIZE": 20,
    "MAX_PAGE_SIZE": 100,
}


@dataclass(frozen=True, slots=True)
class NotificationsSettings:
    """The validated values of ``settings.NOTIFICATIONS``, one field per key of ``DEFAULTS``.

    A field's type is its rule: ``str`` is a non-empty string, ``int`` a positive integer, ``float`` a
    positive number (an int is converted), ``float | None`` that or None, ``bool`` True or False, a
    ``Literal`` one of its values.
    """

    CHANNEL_LAYER: str
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
    GC_TUNING: bool
    PAGE_SIZE: int
    MAX_PAGE_SIZE: int


class SettingsProblem(NamedTuple):
    """One thing wrong with ``settings.NOTIFICATIONS``; ``id`` is its system check id."""

    id: str
    msg: str
    hint: str


DOCS = "See README.md, section Settings."
NOT_A_DICT = "notifications.E002"
UNKNOWN_KEY = "notifications.E003"
BAD_VALUE = "notifications.E004"


def _positive_int(value: object) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 200.0 was always accepted
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError("a positive integer")
    return value


def _positive_number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError("a positive number")
    return float(value)


def _optional_positive_number(value: object) -> float | None:
    if value is None:
        return None
    try:
        return _positive_number(value)
    except ValueError:
        raise ValueError("None or a positive number") from None


def _non_empty_string(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("a non-empty string")
    return value


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError("True or False")
    return value


def _convert(field_type: object, value: object) -> object:
    if typing.get_origin(field_type) is Literal:
        choices = typing.get_args(field_type)
        if value not in choices:
            raise ValueError("one of " + ", ".join(repr(c) for c in choices))
        return value
    return _CONVERTERS[field_type](value)


_CONVERTERS: dict[object, Callable[[object], object]] = {
    bool: _boolean,
    int: _positive_int,
    float: _positive_number,
    float | None: _optional_positive_number,
    str: _non_empty_string,
}
_FIELD_TYPES = typing.get_type_hints(NotificationsSettings)


def problems() -> list[SettingsProblem]:
    """Everything wrong with ``settings.NOTIFICATIONS``, each with its check id; [] when valid."""
    return _parse(_user_setting())[1]


def _user_setting() -> object:
    return getattr(settings, "NOTIFICATIONS", None) or {}


def _parse(user: object) -> tuple[dict[str, object], list[SettingsProblem]]:
    if not isinstance(user, dict):
        return {}, [
            SettingsProblem(
                NOT_A_DICT,
                f"settings.NOTIFICATIONS must be a dict, not {type(user).__name__}.",
                'Write NOTIFICATIONS = {"KEY": value, ...}, or remove it to use the defaults.',
            )
        ]
    found: list[SettingsProblem] = []
    for key in user:
        if key not in DEFAULTS:
            found.append(
                SettingsProblem(
                    UNKNOWN_KEY,
                    f"Unknown NOTIFICATIONS key {key!r}.",
                    f"Known keys: {', '.join(DEFAULTS)}. {DOCS}",
                )
            )
    values: dict[str, object] = {}
    for name, default in DEFAULTS.items():
        value = user.get(name, default)
        try:
            values[name] = _convert(_FIELD_TYPES[name], value)
        except ValueError as exc:
            found.append(
                SettingsProblem(
                    BAD_VALUE,
                    f"NOTIFICATIONS[{name!r}] must be {exc}, not {value!r}.",
                    f"Remove it to use the default, {default!r}. {DOCS}",
                )
            )
    return values, found


@cache
def load() -> NotificationsSettings:
    """The validated settings, built once per value of ``settings.NOTIFICATIONS``."""
    values, found = _parse(_user_setting())
    if found:
        raise NotificationsImproperlyConfigured(" ".join(p.msg for p in found))
    return NotificationsSettings(**values)  # type: ignore[arg-type]  # each converted to its field's type


class _LazySettings:
    # Reads settings.NOTIFICATIONS on first attribute access, not at import, so settings.py and
    # modules imported before Django is configured may import app_settings.
    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown NOTIFICATIONS setting: {name!r}")
        return getattr(load(), name)


# Typed as the settings object it stands for: `app_settings.CATCH_UP_LIMIT` is an int to mypy.
app_settings = cast(NotificationsSettings, _LazySettings())


@receiver(setting_changed)
def _clear_cache(*, setting: str, **kwargs: Any) -> None:
    if setting == "NOTIFICATIONS":
        load.cache_clear()
