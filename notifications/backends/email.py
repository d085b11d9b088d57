"""Email: notifications wait, then one digest email lists a user's unread ones (notifications/digests.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db import connections, router
from django.db.models.options import Options

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
        queued: list[int] = []
        for category, group in by_category.items():
            wanting = preferences.wanted({n.recipient_id for n in group}, category, EMAIL)
            queued += [n.pk for n in group if n.recipient_id in wanting]
        using = router.db_for_write(PendingEmail)
        for start in range(0, len(queued), app_settings.BATCH_SIZE):
            _queue(queued[start : start + app_settings.BATCH_SIZE], using)


def _queue(notification_pks: list[int], using: str) -> None:
    """One INSERT ... SELECT from the notifications: no per-row ORM work on a broadcast."""
    connection = connections[using]
    qn = connection.ops.quote_name
    pending, source = PendingEmail._meta, Notification._meta

    def column(meta: Options[Any], name: str) -> str:
        return qn(str(meta.get_field(name).column))  # type: ignore[union-attr]

    sql = (
        f"INSERT INTO {qn(pending.db_table)} "  # noqa: S608
        f"({column(pending, 'notification')}, {column(pending, 'recipient')}, "
        f"{column(pending, 'created_at')}, {column(pending, 'claim')}) "
        f"SELECT {column(source, 'id')}, {column(source, 'recipient')}, "
        f"{column(source, 'created_at')}, %s FROM {qn(source.db_table)} "
        f"WHERE {column(source, 'id')} IN ({', '.join(['%s'] * len(notification_pks))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, ["", *notification_pks])
