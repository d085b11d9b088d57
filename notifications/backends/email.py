"""Email: notifications wait, then one digest email lists a user's unread ones (notifications/digests.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections
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
    The queue rows are written in notify()'s transaction, by one INSERT ... SELECT per category that
    reads the preferences itself: no query and no transaction of their own on the hot path.
    """

    name = EMAIL

    def enqueue(self, notifications: Sequence[Notification], using: str) -> None:
        by_category: dict[str, list[int]] = defaultdict(list)
        for n in notifications:
            by_category[n.category].append(n.pk)
        batch = app_settings.BATCH_SIZE
        for category, pks in by_category.items():
            for start in range(0, len(pks), batch):
                _queue(pks[start : start + batch], category, using)

    def deliver(self, notifications: Sequence[Notification]) -> None:
        """Nothing left to do after commit: enqueue() queued them with the notifications."""


def _queue(notification_pks: list[int], category: str, using: str) -> None:
    """One INSERT ... SELECT from the notifications of recipients who want email for ``category``."""
    wanted, wanted_params = preferences.wanting_sql(category, EMAIL, using)
    with connections[using].cursor() as cursor:
        cursor.execute(
            _queue_sql(using, len(notification_pks), wanted),
            ["", *notification_pks, *wanted_params],
        )


@lru_cache(maxsize=32)
def _queue_sql(using: str, count: int, wanted: str) -> str:
    """_queue()'s statement for ``count`` notifications, built once per shape, not on every call."""
    qn = connections[using].ops.quote_name
    pending, source = PendingEmail._meta, Notification._meta
    user = get_user_model()._meta

    def column(meta: Options[Any], name: str) -> str:
        return qn(str(meta.get_field(name).column))  # type: ignore[union-attr]

    # A join, not `recipient IN (SELECT ... FROM users)`, which SQLite builds for every user.
    notification = qn(source.db_table)
    recipient = f"{notification}.{column(source, 'recipient')}"
    user_pk = f"{qn(user.db_table)}.{qn(str(user.pk.column))}"
    return (
        f"INSERT INTO {qn(pending.db_table)} "  # noqa: S608
        f"({column(pending, 'notification')}, {column(pending, 'recipient')}, "
        f"{column(pending, 'created_at')}, {column(pending, 'claim')}) "
        f"SELECT {notification}.{column(source, 'id')}, {recipient}, "
        f"{notification}.{column(source, 'created_at')}, %s "
        f"FROM {notification} JOIN {qn(user.db_table)} ON {user_pk} = {recipient} "
        f"WHERE {notification}.{column(source, 'id')} IN "
        f"({', '.join(['%s'] * count)}) AND {wanted} "
        # A grouped notification that collapsed while its digest was still pending stays queued once.
        f"AND NOT EXISTS (SELECT 1 FROM {qn(pending.db_table)} AS queued "
        f"WHERE queued.{column(pending, 'notification')} = {notification}.{column(source, 'id')})"
    )
