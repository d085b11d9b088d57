"""One root exception; each subclass also inherits the standard exception it stands for.

The exception to the root: a broken configuration is Django's ImproperlyConfigured, see below.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


class NotificationsError(Exception):
    """Root of every error this app raises."""


class InvalidNotification(NotificationsError, ValueError):
    """An argument of notify() (verb, url, level, category, data ...) is not acceptable."""


class InvalidRecipients(NotificationsError, TypeError):
    """`recipients` is not a user, an iterable of users, a user QuerySet or an auth Group."""


class NotificationNotFound(NotificationsError, LookupError):
    """An id is not one of the user's notifications."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = ids
        super().__init__(f"Not your notification(s): {', '.join(map(str, ids))}")


class NotificationsImproperlyConfigured(ImproperlyConfigured):
    """The NOTIFICATIONS setting is invalid.

    Deliberately not a NotificationsError (django-anymail does the same): code that handles a refused
    notification with ``except NotificationsError`` must never swallow a broken configuration.
    """


class InvalidPreferences(NotificationsError, ValueError):
    """A change of preferences names an unknown category or channel, or a value that is not a bool."""
