"""Real-time, never-lost notifications for Django.

The public API is re-exported here lazily, so ``import notifications`` never touches models before the
app registry is ready::

    from notifications import notify, anotify, notify_on
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API_NAMES = {
    "notify",
    "anotify",
    "mark_read",
    "amark_read",
    "mark_unread",
    "mark_all_read",
    "amark_all_read",
    "delete",
    "adelete",
    "unread_count",
    "aunread_count",
}

__all__ = [
    "InvalidNotification",
    "InvalidRecipients",
    "Level",
    "NotificationsError",
    "adelete",
    "amark_all_read",
    "amark_read",
    "anotify",
    "aunread_count",
    "delete",
    "mark_all_read",
    "mark_read",
    "mark_unread",
    "notify",
    "notify_on",
    "unread_count",
]

if TYPE_CHECKING:
    from notifications.api import (
        adelete,
        amark_all_read,
        amark_read,
        anotify,
        aunread_count,
        delete,
        mark_all_read,
        mark_read,
        mark_unread,
        notify,
        unread_count,
    )
    from notifications.constants import Level
    from notifications.exceptions import InvalidNotification, InvalidRecipients, NotificationsError
    from notifications.rules import notify_on


def __getattr__(name: str) -> Any:
    if name in _API_NAMES:
        from notifications import api

        return getattr(api, name)
    if name == "notify_on":
        from notifications.rules import notify_on

        return notify_on
    if name == "Level":
        from notifications.constants import Level

        return Level
    if name in {"NotificationsError", "InvalidNotification", "InvalidRecipients"}:
        from notifications import exceptions

        return getattr(exceptions, name)
    raise AttributeError(f"module 'notifications' has no attribute {name!r}")
