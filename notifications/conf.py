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

import base64
import typing
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, NamedTuple, NewType, cast

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.functional import Promise

from notifications.constants import CHANNELS, is_category_key
from notifications.exceptions import NotificationsImproperlyConfigured

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
}

# The keys of NOTIFICATIONS["WEB_PUSH"]; the first three are required, the others have these defaults.
WEB_PUSH_REQUIRED = ("VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY", "SUBJECT")
WEB_PUSH_DEFAULTS: dict[str, Any] = {
    # Seconds to wait for a push service's answer, per attempt: a hung service costs a worker this long.
    "TIMEOUT": 5.0,
    # Seconds a push service keeps a message for a browser that is offline.
    "TTL": 86400,
    # Attempts per subscription when a push service answers 429 or 5xx or cannot be reached ...
    "MAX_ATTEMPTS": 3,
    # ... waiting RETRY_DELAY, then twice that, and so on (or the service's Retry-After, up to a minute).
    "RETRY_DELAY": 1.0,
    # URL of the icon the browser shows beside each push ("": the browser's default).
    "ICON": "",
}


@dataclass(frozen=True, slots=True)
class WebPushSettings:
    """The validated ``NOTIFICATIONS["WEB_PUSH"]``: the VAPID key pair (base64url, the public key as the
    browser's ``applicationServerKey``), the VAPID ``sub`` claim, and the sending options."""

    VAPID_PUBLIC_KEY: str
    VAPID_PRIVATE_KEY: str
    SUBJECT: str
    TIMEOUT: float
    TTL: int
    MAX_ATTEMPTS: int
    RETRY_DELAY: float
    ICON: str


@dataclass(frozen=True, slots=True)
class Category:
    """One declared category: its label and each channel's default (a user may change them)."""

    label: str | Promise  # a gettext_lazy() label is shown in each user's language
    in_app: bool = True
    push: bool = True
    email: bool = True

    def default(self, channel: str) -> bool:
        """The category's default for a channel; a channel it does not name is on."""
        value = getattr(self, channel, True) if channel in CHANNELS else True
        return bool(value)


# PROJECT_KEY's type: any non-empty string (a plain ``str | None`` field is an http(s) URL).
ProjectKey = NewType("ProjectKey", str)


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


def _optional_positive_int(value: object) -> int | None:
    if value is None:
        return None
    try:
        return _positive_int(value)
    except ValueError:
        raise ValueError("None or a positive integer") from None


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


def _optional_non_empty_string(value: object) -> ProjectKey | None:
    if value is None:
        return None
    try:
        return ProjectKey(_non_empty_string(value))
    except ValueError:
        raise ValueError("None or a non-empty string") from None


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


def _dotted_paths(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError("a list of dotted paths")
    for path in value:
        if not isinstance(path, str) or "." not in path.strip(".") or " " in path:
            raise ValueError(f"a list of dotted paths ({path!r} is not one)")
    return tuple(value)


def _optional_url(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise ValueError("None or an http(s) URL such as 'https://example.com'")
    return value.rstrip("/")


_CATEGORY_SHAPE = 'a dict {"<key>": {"label": str, "in_app": bool, "push": bool, "email": bool}}'


def _categories(value: object) -> dict[str, Category]:
    if not isinstance(value, dict):
        raise ValueError(_CATEGORY_SHAPE)
    categories: dict[str, Category] = {}
    for key, spec in value.items():
        if not isinstance(key, str) or not is_category_key(key):
            raise ValueError(
                f"{_CATEGORY_SHAPE}; the key {key!r} is not a category key (ASCII letters, "
                "digits, '_', '.', ':', '-', at most 64)"
            )
        if not isinstance(spec, dict):
            raise ValueError(f"{_CATEGORY_SHAPE}; {key!r} maps to {spec!r}")
        unknown = set(spec) - {"label", *CHANNELS}
        if unknown:
            raise ValueError(
                f"{_CATEGORY_SHAPE}; {key!r} has unknown keys {sorted(map(str, unknown))}"
            )
        label = spec.get("label", key)
        if not isinstance(label, str | Promise) or not str(label).strip():
            raise ValueError(f"{_CATEGORY_SHAPE}; the label of {key!r} is not a non-empty string")
        for channel in CHANNELS:
            if not isinstance(spec.get(channel, True), bool):
                raise ValueError(f"{_CATEGORY_SHAPE}; {key!r}[{channel!r}] is not True or False")
        categories[key] = Category(label=label, **{c: spec.get(c, True) for c in CHANNELS})
    return categories


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("a string")
    return value


_WEB_PUSH_SHAPE = (
    'None or a dict {"VAPID_PUBLIC_KEY": str, "VAPID_PRIVATE_KEY": str, "SUBJECT": "mailto:..."}'
)


def _web_push(value: object) -> WebPushSettings | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(_WEB_PUSH_SHAPE)
    unknown = sorted(str(k) for k in set(value) - {*WEB_PUSH_REQUIRED, *WEB_PUSH_DEFAULTS})
    if unknown:
        raise ValueError(f"{_WEB_PUSH_SHAPE}; unknown keys {unknown}")
    options: dict[str, Any] = {}
    for name, default in WEB_PUSH_DEFAULTS.items():
        convert = {int: _positive_int, float: _positive_number, str: _string}[type(default)]
        try:
            options[name] = convert(value.get(name, default))
        except ValueError as exc:
            raise ValueError(f"{_WEB_PUSH_SHAPE}; {name!r} must be {exc}") from None
    if not all(value.get(name) for name in WEB_PUSH_REQUIRED):
        return None  # off; checks.py warns when the dict was given but is incomplete
    public, private, subject = (value[name] for name in WEB_PUSH_REQUIRED)
    if not all(isinstance(v, str) for v in (public, private, subject)):
        raise ValueError(f"{_WEB_PUSH_SHAPE}; the keys and SUBJECT must be strings")
    if not subject.startswith(("mailto:", "https://")):
        raise ValueError(f"{_WEB_PUSH_SHAPE}; SUBJECT must start with 'mailto:' or 'https://'")
    problem = vapid_key_problem(public, private)
    if problem:
        raise ValueError(f"{_WEB_PUSH_SHAPE}; {problem}")
    return WebPushSettings(public, private, subject, **options)


def vapid_key_problem(public: str, private: str) -> str:
    """What is wrong with a VAPID key pair (as ``notifications_vapid_keys`` prints it); "" if nothing."""
    try:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
        from py_vapid import Vapid
    except ImportError:
        return "Web Push needs pywebpush: pip install 'django-realtime-notifications[push]'"
    try:
        pair = Vapid.from_string(private_key=private)
    except Exception:
        return "VAPID_PRIVATE_KEY is not a base64url P-256 private key (raw or DER)"
    point = pair.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    if public.rstrip("=") != base64.urlsafe_b64encode(point).decode().rstrip("="):
        return "VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY"
    return ""


_CONVERTERS: dict[object, Callable[[object], object]] = {
    bool: _boolean,
    int: _positive_int,
    int | None: _optional_positive_int,
    float: _positive_number,
    float | None: _optional_positive_number,
    str: _non_empty_string,
    ProjectKey | None: _optional_non_empty_string,
    str | None: _optional_url,
    tuple[str, ...]: _dotted_paths,
    dict[str, Category]: _categories,
    WebPushSettings | None: _web_push,
}
# Values never echoed in error messages: they hold the VAPID private key.
_SECRET = {"WEB_PUSH"}
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
            shown = "the value given" if name in _SECRET else repr(value)
            found.append(
                SettingsProblem(
                    BAD_VALUE,
                    f"NOTIFICATIONS[{name!r}] must be {exc}, not {shown}.",
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
