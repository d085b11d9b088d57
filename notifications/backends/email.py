"""Email: notifications wait, then one digest email lists a user's unread ones (notifications/digests.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.db import router

from notifications import preferences
from notifications.backends.base import DeliveryBackend
from notifications.conf import app_settings
from notifications.constants import EMAIL
from notifications.models import Notification, PendingEmail


class EmailBackend(DeliveryBackend):
    """Queue each notification whose recipient wants email for its category for the next digest.

    Nothing is sent here: ``send_notification_digests`` (cron) or its task sends one email per user
    once notifications are ``EMAIL_DIGEST_DELAY`` old and still unread, checking the preferences again.
    """

    name = EMAIL

    def deliver(self, notifications: Sequence[Notification]) -> None:
        by_category: dict[str, list[Notification]] = defaultdict(list)
        for n in notifications:
            by_category[n.category].append(n)
        queued = []
        for category, group in by_category.items():
            wanting = preferences.wanted({n.recipient_id for n in group}, category, EMAIL)
            queued += [
                PendingEmail(notification=n, recipient_id=n.recipient_id, created_at=n.created_at)
                for n in group
                if n.recipient_id in wanting
            ]
        PendingEmail.objects.using(router.db_for_write(PendingEmail)).bulk_create(
            queued, batch_size=app_settings.BATCH_SIZE, ignore_conflicts=True
        )
