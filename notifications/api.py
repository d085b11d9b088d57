"""The public Python API: create and delete notifications, read counts, and change their state.

Every function runs in the caller's transaction (or its own, in autocommit); live delivery and signals
happen only after commit, never after a rollback, and a failing channel layer never raises here.
What the arguments may be is checked in validation.py (fields) and recipients.py (recipients); the SQL
that writes the rows of a notify() is in fanout.py. The state verbs (mark_read, mark_seen, archive,
snooze, wake_snoozed ...) live in states.py and are importable from here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Unpack

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import models, router, transaction

from notifications import backends, fanout, preferences, protocol, signals
from notifications import recipients as resolver
from notifications.conf import app_settings
from notifications.exceptions import NotificationNotFound
from notifications.models import InboxState, Notification
from notifications.recipients import Recipients
from notifications.states import (
    archive,
    mark_all_read,
    mark_read,
    mark_seen,
    mark_unread,
    published,
    require_saved,
    snooze,
    snooze_until,
    unarchive,
    wake_snoozed,
)
from notifications.validation import NotificationFields, clean

# Kept importable from here, where they were before the api was split.
from notifications.exceptions import InvalidNotification as InvalidNotification  # isort: skip
from notifications.exceptions import InvalidRecipients as InvalidRecipients  # isort: skip
from notifications.validation import clean_ids as clean_ids  # isort: skip
from notifications.validation import clean_url as clean_url  # isort: skip

__all__ = [
    "adelete",
    "amark_all_read",
    "amark_read",
    "anotify",
    "archive",
    "aunread_count",
    "delete",
    "mark_all_read",
    "mark_read",
    "mark_seen",
    "mark_unread",
    "notify",
    "snooze",
    "snooze_until",
    "unarchive",
    "unread_count",
    "unseen_count",
    "wake_snoozed",
]


def notify(
    recipients: Recipients, verb: str, **fields: Unpack[NotificationFields]
) -> list[Notification]:
    """Create one notification per recipient; deliver them live after commit.

    ``fields``: actor, target, action_object, title, body, url, level, category, data, group_key
    (validation.NotificationFields). With a ``group_key``, a recipient's unread notification of that
    key takes the new event instead of a new row (fanout.grouped()).
    """
    return _notify(recipients, clean(verb, fields))


def _notify(recipients: Recipients, columns: dict[str, Any]) -> list[Notification]:
    # fanout leaves out, in its own statements, whoever turned in_app off for the category.
    user_pks = resolver.pks(recipients)
    if not user_pks:
        return []
    using = router.db_for_write(Notification)
    created: list[Notification] = []
    batch = app_settings.BATCH_SIZE
    with transaction.atomic(using=using):
        for start in range(0, len(user_pks), batch):
            created += fanout.insert(user_pks[start : start + batch], columns, using)
        # In the order the recipients were given, whatever order the database returned them in.
        order = {pk: i for i, pk in enumerate(user_pks)}
        created.sort(key=lambda n: order[n.recipient_id])
        backends.enqueue(created, using)
        transaction.on_commit(lambda: _created(created), using=using, robust=True)
    return created


def notify_many(
    recipients: Recipients,
    verb: str,
    *,
    batch_size: int | None = None,
    **fields: Unpack[NotificationFields],
) -> int:
    """Like notify() for a large audience: batches committed one by one; return how many were notified.

    Only one batch of rows is held at a time (called inside a transaction, the live pushes wait for
    its commit). ``fields`` are notify()'s: actor, target, title, body, url, level, category, data ...
    """
    columns = clean(verb, fields)
    batch = max(1, batch_size or app_settings.BATCH_SIZE)
    users = preferences.in_app_users(resolver.users(recipients), columns["category"]).order_by("pk")
    using = router.db_for_write(Notification)
    total, last = 0, None
    while True:
        page = users if last is None else users.filter(pk__gt=last)
        pks = list(page.values_list("pk", flat=True).distinct()[:batch])
        if not pks:
            return total
        with transaction.atomic(using=using):
            created = fanout.insert(pks, columns, using)
            backends.enqueue(created, using)
            transaction.on_commit(lambda c=created: _created(c), using=using, robust=True)  # type: ignore[misc]
        total, last = total + len(created), pks[-1]
        del created


def _created(notifications: list[Notification]) -> None:
    backends.deliver(notifications)
    signals.notification_created.send(sender=Notification, notifications=notifications)


# Deletion locks the users' inbox rows first, as every state change does (states.py), so the counts
# stay exact.


def delete(user: Any, ids: Any) -> list[int]:
    """Delete the user's notifications; return the ids deleted. Foreign ids raise."""
    wanted = clean_ids(ids)
    require_saved(user)
    using = router.db_for_write(Notification)
    with transaction.atomic(using=using):
        _owned(user, wanted, using)
        _deleted({user.pk: wanted}, {user.pk: user}, using)
    return wanted


def delete_many(
    notifications: models.QuerySet[Notification],
    *,
    batch_size: int | None = None,
    on_batch: Callable[[int], Any] | None = None,
) -> int:
    """Delete notifications of any recipients in batches; keep counts exact; push `deleted` frames.

    Returns how many were deleted; ``on_batch(total_so_far)`` is called after each batch.
    """
    batch = max(1, batch_size or app_settings.BATCH_SIZE)
    rows_qs = notifications.order_by("pk").values_list("pk", "recipient_id")
    using = notifications.db
    total, last = 0, None
    while True:
        page = rows_qs if last is None else rows_qs.filter(pk__gt=last)
        rows = list(page[:batch])
        if not rows:
            return total
        by_user: dict[Any, list[int]] = {}
        for pk, user_pk in rows:
            by_user.setdefault(user_pk, []).append(pk)
        with transaction.atomic(using=using):
            users = get_user_model()._default_manager.using(using).in_bulk(list(by_user))
            total += _deleted(by_user, users, using)
        last = rows[-1][0]
        if on_batch is not None:
            on_batch(total)


def unread_count(user: Any) -> int:
    """The user's unread count: one primary-key lookup, no COUNT."""
    return inbox(user)[0]


def unseen_count(user: Any) -> int:
    """The user's count of inbox notifications not seen yet: one primary-key lookup, no COUNT."""
    return inbox_counts(user)[1]


def inbox_counts(user: Any) -> tuple[int, int, int]:
    """(unread_count, unseen_count, last_seq) of the user."""
    if user is None or not getattr(user, "is_authenticated", False):
        return (0, 0, 0)
    row = (
        InboxState.objects.filter(user_id=user.pk)
        .values_list("unread_count", "unseen_count", "last_seq")
        .first()
    )
    return row or (0, 0, 0)


def inbox(user: Any) -> tuple[int, int]:
    """(unread_count, last_seq) of the user."""
    if user is None or not getattr(user, "is_authenticated", False):
        return (0, 0)
    row = InboxState.objects.filter(user_id=user.pk).values_list("unread_count", "last_seq").first()
    return row or (0, 0)


def inboxes(user_pks: list[Any]) -> dict[Any, tuple[int, int, int]]:
    """(unread_count, unseen_count, last_seq) of each user who has an inbox row, in one query."""
    rows = InboxState.objects.filter(user_id__in=user_pks).values_list(
        "user_id", "unread_count", "unseen_count", "last_seq"
    )
    return {pk: (unread, unseen, last) for pk, unread, unseen, last in rows}


def since(user: Any, seq: int, limit: int) -> list[Notification]:
    """The user's notifications with a seq above `seq`, oldest first, at most `limit`.

    The inbox's only: archived ones are not shown there, and snoozed ones come back with a new seq
    when they wake.
    """
    return list(
        Notification.objects.filter(recipient_id=user.pk, seq__gt=seq)
        .inbox()
        .order_by("seq")[:limit]
    )


anotify = sync_to_async(notify)
amark_read = sync_to_async(mark_read)
amark_all_read = sync_to_async(mark_all_read)
adelete = sync_to_async(delete)
aunread_count = sync_to_async(unread_count)


def _owned(user: Any, ids: list[int], using: str) -> dict[int, Any]:
    owned = dict(
        Notification.objects.using(using)
        .filter(recipient_id=user.pk, pk__in=ids)
        .values_list("pk", "read_at")
    )
    missing = [pk for pk in ids if pk not in owned]
    if missing:
        raise NotificationNotFound(missing)
    return owned


def _deleted(by_user: dict[Any, list[int]], users: Mapping[Any, Any], using: str) -> int:
    """Delete these notifications (ids by recipient pk) and publish it: the api's one delete path."""
    doomed = Notification.objects.using(using).filter(
        pk__in=[pk for ids in by_user.values() for pk in ids]
    )
    (_, per_model), _ = doomed.delete_counted()
    published(protocol.DELETED, by_user, users, using)
    return per_model.get(Notification._meta.label, 0)
