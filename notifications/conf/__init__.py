"""Settings of the notifications app: one namespaced dict, ``settings.NOTIFICATIONS``.

Usage::

    from notifications.conf import app_settings

    app_settings.CATCH_UP_LIMIT  # an int, validated

Every key is optional; ``DEFAULTS`` documents them and ``NotificationsSettings`` types them. The user's
dict is merged over the defaults, validated and converted once into a frozen ``NotificationsSettings``
on first use; the result is cached, and the cache is cleared on ``setting_changed`` so
``override_settings`` works in tests. A broken setting raises ``NotificationsImproperlyConfigured``
when first read; the system checks (checks.py) report the same problems at start-up, with ids.

This module reads and validates the setting; ``defaults.py`` lists the keys, their defaults and types,
``values.py`` the rule of each type (and the categories), ``web_push.py`` the ``WEB_PUSH`` dict.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from functools import cache
from typing import Any, Literal, NamedTuple, cast

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from notifications.conf import values
from notifications.conf.defaults import DEFAULTS, NotificationsSettings
from notifications.conf.values import Category, ProjectKey
from notifications.conf.web_push import (
    WEB_PUSH_DEFAULTS,
    WEB_PUSH_REQUIRED,
    WebPushSettings,
    vapid_key_problem,
    web_push,
)
from notifications.exceptions import NotificationsImproperlyConfigured

__all__ = [
    "BAD_VALUE",
    "DEFAULTS",
    "NOT_A_DICT",
    "UNKNOWN_KEY",
    "WEB_PUSH_DEFAULTS",
    "WEB_PUSH_REQUIRED",
    "Category",
    "NotificationsSettings",
    "ProjectKey",
    "SettingsProblem",
    "WebPushSettings",
    "app_settings",
    "load",
    "problems",
    "vapid_key_problem",
]


class SettingsProblem(NamedTuple):
    """One thing wrong with ``settings.NOTIFICATIONS``; ``id`` is its system check id."""

    id: str
    msg: str
    hint: str


DOCS = "See README.md, section Settings."
NOT_A_DICT = "notifications.E002"
UNKNOWN_KEY = "notifications.E003"
BAD_VALUE = "notifications.E004"


_CONVERTERS: dict[object, Callable[[object], object]] = {
    bool: values.boolean,
    int: values.positive_int,
    int | None: values.optional_positive_int,
    float: values.positive_number,
    float | None: values.optional_positive_number,
    str: values.non_empty_string,
    ProjectKey | None: values.optional_non_empty_string,
    str | None: values.optional_url,
    tuple[str, ...]: values.dotted_paths,
    dict[str, Category]: values.categories,
    WebPushSettings | None: web_push,
}
# Values never echoed in error messages: they hold the VAPID private key.
_SECRET = {"WEB_PUSH"}
_FIELD_TYPES = typing.get_type_hints(NotificationsSettings)


def _convert(field_type: object, value: object) -> object:
    if typing.get_origin(field_type) is Literal:
        choices = typing.get_args(field_type)
        if value not in choices:
            raise ValueError("one of " + ", ".join(repr(c) for c in choices))
        return value
    return _CONVERTERS[field_type](value)


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
    converted: dict[str, object] = {}
    for name, default in DEFAULTS.items():
        value = user.get(name, default)
        try:
            converted[name] = _convert(_FIELD_TYPES[name], value)
        except ValueError as exc:
            shown = "the value given" if name in _SECRET else repr(value)
            found.append(
                SettingsProblem(
                    BAD_VALUE,
                    f"NOTIFICATIONS[{name!r}] must be {exc}, not {shown}.",
                    f"Remove it to use the default, {default!r}. {DOCS}",
                )
            )
    return converted, found


@cache
def load() -> NotificationsSettings:
    """The validated settings, built once per value of ``settings.NOTIFICATIONS``."""
    converted, found = _parse(_user_setting())
    if found:
        raise NotificationsImproperlyConfigured(" ".join(p.msg for p in found))
    return NotificationsSettings(**converted)  # type: ignore[arg-type]  # each converted to its field's type


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
