"""Deprecated alias of ``notifications.rules`` (the rules' module was called hooks before 0.2)."""

from __future__ import annotations

import warnings
from typing import Any

from notifications import rules
from notifications.rules import Rule, autodiscover, notify_on, registry, run

__all__ = ["Rule", "autodiscover", "notify_on", "registry", "run"]

warnings.warn(
    "notifications.hooks is deprecated: import from notifications.rules (or notifications).",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    return getattr(rules, name)
