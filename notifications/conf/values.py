"""What a value of ``settings.NOTIFICATIONS`` may be: one rule per type of setting, and the categories.

Each rule takes the value given and returns it converted, or raises ``ValueError`` whose text completes
"must be ...". ``NotificationsSettings`` (defaults.py) says which key has which type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NewType, TypeVar

from django.utils.functional import Promise

from notifications.constants import CHANNELS, is_category_key

T = TypeVar("T")

# PROJECT_KEY's type: any non-empty string (a plain ``str | None`` field is an http(s) URL).
ProjectKey = NewType("ProjectKey", str)


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


def positive_int(value: object) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 200.0 was always accepted
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError("a positive integer")
    return value


def positive_number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError("a positive number")
    return float(value)


def _or_none(rule: Callable[[object], T], what: str) -> Callable[[object], T | None]:
    def convert(value: object) -> T | None:
        if value is None:
            return None
        try:
            return rule(value)
        except ValueError:
            raise ValueError(f"None or {what}") from None

    return convert


optional_positive_int = _or_none(positive_int, "a positive integer")
optional_positive_number = _or_none(positive_number, "a positive number")


def non_empty_string(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("a non-empty string")
    return value


def optional_non_empty_string(value: object) -> ProjectKey | None:
    if value is None:
        return None
    try:
        return ProjectKey(non_empty_string(value))
    except ValueError:
        raise ValueError("None or a non-empty string") from None


def boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError("True or False")
    return value


def dotted_paths(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError("a list of dotted paths")
    for path in value:
        if not isinstance(path, str) or "." not in path.strip(".") or " " in path:
            raise ValueError(f"a list of dotted paths ({path!r} is not one)")
    return tuple(value)


def optional_url(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise ValueError("None or an http(s) URL such as 'https://example.com'")
    return value.rstrip("/")


_CATEGORY_SHAPE = 'a dict {"<key>": {"label": str, "in_app": bool, "push": bool, "email": bool}}'


def categories(value: object) -> dict[str, Category]:
    if not isinstance(value, dict):
        raise ValueError(_CATEGORY_SHAPE)
    parsed: dict[str, Category] = {}
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
        parsed[key] = Category(label=label, **{c: spec.get(c, True) for c in CHANNELS})
    return parsed


def string(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("a string")
    return value
