"""Real-time, never-lost notifications for Django.

The public API is re-exported here lazily, so ``import notifications`` never touches models before the
app registry is ready::

    from notifications import notify, anotify, notify_on
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: The public names, and the module each one lives in.
_PUBLIC = {
    "InvalidNotification": "exceptions",
    "InvalidRecipients": "exceptions",
    "Level": "constants",
    "NotificationsError": "exceptions",
    "adelete": "api",
    "amark_all_read": "api",
    "amark_read": "api",
    "anotify": "api",
    "archive": "states",
    "aunread_count": "api",
    "delete": "api",
    "mark_all_read": "states",
    "mark_read": "states",
    "mark_seen": "states",
    "mark_unread": "states",
    "notify": "api",
    "notify_on": "rules",
    "snooze": "states",
    "snooze_until": "states",
    "unarchive": "states",
    "unread_count": "api",
    "unseen_count": "api",
    "wake_snoozed": "states",
}

__all__ = list(_PUBLIC)

if TYPE_CHECKING:  # what __getattr__ returns, for type checkers
    from notifications.api import *  # noqa: F403
    from notifications.constants import Level as Level
    from notifications.exceptions import InvalidNotification as InvalidNotification
    from notifications.exceptions import InvalidRecipients as InvalidRecipients
    from notifications.exceptions import NotificationsError as NotificationsError
    from notifications.rules import notify_on as notify_on


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(import_module(f"notifications.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module 'notifications' has no attribute {name!r}")
