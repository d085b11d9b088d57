"""Signals sent by the notifications app. Every one is sent after the transaction commits."""

from __future__ import annotations

from django.dispatch import Signal

#: Notifications were created and committed.
#: Arguments: ``sender`` (the Notification class), ``notifications`` (list of Notification).
notification_created = Signal()

#: Notifications were marked read.
#: Arguments: ``sender`` (the Notification class), ``user``, ``ids`` (list of int).
notifications_read = Signal()

#: Notifications were marked unread again.
#: Arguments: ``sender`` (the Notification class), ``user``, ``ids`` (list of int).
notifications_unread = Signal()

#: Notifications were deleted through the API.
#: Arguments: ``sender`` (the Notification class), ``user``, ``ids`` (list of int).
notifications_deleted = Signal()
