"""Signals of the notifications app.

The app sends the past-tense ones, always after the transaction commits. ``notify`` is the other way
round: code sends it to create notifications, as with django-notifications-hq.
"""

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

#: Notifications were marked seen (a dropdown showed them).
#: Arguments: ``sender`` (the Notification class), ``user``, ``ids`` (list of int).
notifications_seen = Signal()

#: Notifications were archived: they left the inbox.
#: Arguments: ``sender`` (the Notification class), ``user``, ``ids`` (list of int).
notifications_archived = Signal()

#: Archived notifications were brought back to the inbox.
#: Arguments: ``sender`` (the Notification class), ``user``, ``ids`` (list of int).
notifications_unarchived = Signal()

#: Notifications were snoozed: they left the inbox until they wake.
#: Arguments: ``sender`` (the Notification class), ``user``, ``ids`` (list of int).
notifications_snoozed = Signal()

#: Snoozed notifications woke: back in the inbox as new, with new seqs.
#: Arguments: ``sender`` (the Notification class), ``notifications`` (list of Notification).
notifications_woken = Signal()

#: Send it to notify, as code written for django-notifications-hq does::
#:
#:     notify.send(actor, recipient=user, verb="commented", target=post, description="...")
#:
#: Arguments: ``sender`` (the actor, any saved model instance), ``recipient`` (a user, an auth Group,
#: a user QuerySet or a list of users), ``verb``; optional ``target``, ``action_object``,
#: ``description`` (our ``body``), ``level`` ("success", "info", "warning", "error" or hq's 1-4),
#: ``public`` and ``timestamp`` (ignored), our own ``title``, ``url``, ``category``, ``data``; any
#: other keyword is stored in ``data``. The receiver's return value is the list of Notification
#: created. docs/migrating-from-django-notifications-hq.md has the whole mapping.
notify = Signal()
