"""``NOTIFICATIONS["WEB_PUSH"]``: its keys, their defaults and rules, and the VAPID key pair's check."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from notifications.conf.values import positive_int, positive_number, string

# The keys of NOTIFICATIONS["WEB_PUSH"]; the first three are required, the others have these defaults.
WEB_PUSH_REQUIRED = ("VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY", "SUBJECT")
WEB_PUSH_DEFAULTS: dict[str, Any] = {
    # Seconds to wait for a push service's answer, per attempt: a hung service costs a worker this long.
    "TIMEOUT": 5.0,
    # Seconds a push service keeps a message for a browser that is offline.
    "TTL": 86400,
    # Attempts per subscription when a push service answers 429 or 5xx or cannot be reached ...
    "MAX_ATTEMPTS": 3,
    # ... waiting RETRY_DELAY, then twice that, and so on (or the service's Retry-After, up to a minute):
    # each retry is a task queued for later, with a TASKS backend that can defer (docs/push.md).
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


_WEB_PUSH_SHAPE = (
    'None or a dict {"VAPID_PUBLIC_KEY": str, "VAPID_PRIVATE_KEY": str, "SUBJECT": "mailto:..."}'
)


def web_push(value: object) -> WebPushSettings | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(_WEB_PUSH_SHAPE)
    unknown = sorted(str(k) for k in set(value) - {*WEB_PUSH_REQUIRED, *WEB_PUSH_DEFAULTS})
    if unknown:
        raise ValueError(f"{_WEB_PUSH_SHAPE}; unknown keys {unknown}")
    options: dict[str, Any] = {}
    for name, default in WEB_PUSH_DEFAULTS.items():
        convert = {int: positive_int, float: positive_number, str: string}[type(default)]
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
