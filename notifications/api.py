"""The public Python API: create notifications, change their read state, read counts.

Every function runs in the caller's transaction (or its own, in autocommit); live delivery and signals
happen only after commit, never after a rollback, and a failing channel layer never raises here.
What the arguments may be is checked in validation.py (fields) and recipients.py (recipients); the SQL
that writes the rows of a notify() is in fanout.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any, NamedTuple, Unpack
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import models, router, transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from notifications import backends, delivery, fanout, preferences, protocol, signals
from notifications import recipients as resolver
from notifications.conf import app_settings
from notifications.exceptions import InvalidNotification, InvalidRecipients, NotificationNotFound
from notifications.models import InboxState, Notification
from notifications.recipients import Recipients
from notifications.validation import NotificationFields, clean

# Kept importable from here, where they were before the api was split.
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


# Read state and deletion. Each change locks the users' inbox rows first (InboxState.objects.lock),
# so the unread counts stay exact.


def mark_read(user: Any, ids: Any) -> list[int]:
    """Mark the user's notifications read (and seen); return the ids that changed. Foreign ids raise."""
    return _change(user, clean_ids(ids), protocol.READ, _READ)


def mark_unread(user: Any, ids: Any) -> list[int]:
    """Mark the user's notifications unread again; return the ids that changed."""
    return _change(user, clean_ids(ids), protocol.UNREAD, _UNREAD)


def mark_all_read(user: Any) -> list[int]:
    """Mark every unread notification of the user's inbox read; return their ids."""
    return _change(user, None, protocol.READ, _READ)


def mark_seen(user: Any, ids: Any) -> list[int]:
    """Mark the user's notifications seen (a dropdown showed them); return the ids that changed."""
    return _change(user, clean_ids(ids), protocol.SEEN, _SEEN)


def archive(user: Any, ids: Any) -> list[int]:
    """Take the user's notifications out of the inbox into the archive; return the ids that changed."""
    return _change(user, clean_ids(ids), protocol.ARCHIVED, _ARCHIVE)


def unarchive(user: Any, ids: Any) -> list[int]:
    """Bring archived notifications back to the inbox; return the ids that changed."""
    return _change(user, clean_ids(ids), protocol.UNARCHIVED, _UNARCHIVE)


def snooze(user: Any, ids: Any, until: datetime) -> list[int]:
    """Take the user's notifications out of the inbox until ``until`` (an aware datetime to come).

    Then wake_snoozed() brings them back as new: unread, unseen, with a new seq. Returns the ids.
    """
    if not isinstance(until, datetime) or timezone.is_naive(until):
        raise InvalidNotification("`until` must be an aware datetime.")
    if until <= timezone.now():
        raise InvalidNotification("`until` must be in the future.")
    change = _Change(
        wanted=lambda row: True,
        after=lambda row: row._replace(archived=False, snoozed=True),
        values=lambda now: {"snoozed_until": until, "archived_at": None},
    )
    changed = _change(user, clean_ids(ids), protocol.SNOOZED, change, until=until)
    if changed:
        using = router.db_for_write(Notification)
        transaction.on_commit(lambda: _schedule_wake(until), using=using, robust=True)
    return changed


def snooze_until(preset: str, tz: str | tzinfo = "", now: datetime | None = None) -> datetime:
    """The time a snooze preset means: "1h" from now, "tomorrow" 9:00, "next_week" (Monday) 9:00.

    ``tz`` is the user's time zone (a name such as "Europe/Paris", or a tzinfo); by default the
    current one (Django's ``timezone.activate()``, else ``TIME_ZONE``).
    """
    now = now or timezone.now()
    if preset not in protocol.SNOOZE_PRESETS:
        raise InvalidNotification(f"`preset` must be one of: {', '.join(protocol.SNOOZE_PRESETS)}.")
    zone = _zone(tz)  # checked whatever the preset: a bad name is the caller's bug
    if preset == "1h":
        return now + timedelta(hours=1)
    today = now.astimezone(zone).date()
    days = 1 if preset == "tomorrow" else 7 - today.weekday()
    day = today + timedelta(days=days)
    return datetime(day.year, day.month, day.day, 9, tzinfo=zone)


def _zone(tz: str | tzinfo) -> tzinfo:
    if isinstance(tz, tzinfo):
        return tz
    if not tz:
        return timezone.get_current_timezone()
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidNotification(f"{tz!r} is not a time zone name.") from None


def wake_snoozed(now: datetime | None = None) -> int:
    """Bring back every notification snoozed until ``now`` or before; return how many woke.

    Each comes back as new: unread, unseen, at the top of the inbox with a new seq, pushed live.
    Run it from the tasks framework (notifications.tasks.wake_snoozed) or cron (manage.py wake_snoozed).
    """
    now = now or timezone.now()
    using = router.db_for_write(Notification)
    due = Notification.objects.using(using).filter(snoozed_until__lte=now)
    woken = 0
    for user_pk in due.order_by().values_list("recipient_id", flat=True).distinct():
        woken += _wake(user_pk, now, using)
    return woken


def _wake(user_pk: Any, now: datetime, using: str) -> int:
    with transaction.atomic(using=using):
        inboxes = InboxState.objects.using(using)
        inboxes.lock([user_pk])
        # Read again under the lock: a concurrent run that woke them first leaves none.
        rows = list(
            Notification.objects.using(using)
            .filter(recipient_id=user_pk, snoozed_until__lte=now)
            .order_by("seq")
        )
        if not rows:
            return 0
        last_seq = inboxes.filter(user_id=user_pk).values_list("last_seq", flat=True).get()
        for n in rows:
            last_seq += 1
            n.seq, n.read_at, n.seen_at, n.snoozed_until = last_seq, None, None, None
        # One UPDATE per batch, each row to its own new seq (all above last_seq: no unique clash).
        for start in range(0, len(rows), app_settings.BATCH_SIZE):
            batch = rows[start : start + app_settings.BATCH_SIZE]
            Notification.objects.using(using).filter(pk__in=[n.pk for n in batch]).update(
                seq=Case(*(When(pk=n.pk, then=Value(n.seq)) for n in batch)),
                read_at=None,
                seen_at=None,
                snoozed_until=None,
            )
        inboxes.filter(user_id=user_pk).update(
            last_seq=last_seq,
            unread_count=F("unread_count") + len(rows),
            unseen_count=F("unseen_count") + len(rows),
        )

        def publish() -> None:
            delivery.send(delivery.notification_messages(rows))
            signals.notifications_woken.send(sender=Notification, notifications=rows)

        transaction.on_commit(publish, using=using, robust=True)
    return len(rows)


def _schedule_wake(until: datetime) -> None:
    # Only a backend that can defer runs the task at `until`; with any other, cron or a scheduler
    # runs wake_snoozed.
    from notifications import tasks

    if tasks.default_task_backend.supports_defer:
        tasks.wake_snoozed.using(run_after=until).enqueue()


def delete(user: Any, ids: Any) -> list[int]:
    """Delete the user's notifications; return the ids deleted. Foreign ids raise."""
    wanted = clean_ids(ids)
    _require_saved(user)
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


def _require_saved(user: Any) -> None:
    if not getattr(user, "is_authenticated", False) or user.pk is None:
        # Not an IntegrityError that would break the caller's transaction.
        raise InvalidRecipients(f"user must be a saved user, not {user!r}.")


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


class _Row(NamedTuple):
    """What the counts depend on, of one notification."""

    read: bool
    seen: bool
    archived: bool
    snoozed: bool

    @property
    def listed(self) -> bool:
        return not (self.archived or self.snoozed)


class _Change(NamedTuple):
    """One state change: which rows it changes, what they become, and the UPDATE that does it."""

    wanted: Callable[[_Row], bool]
    after: Callable[[_Row], _Row]
    values: Callable[[datetime], dict[str, Any]]  # the columns to set, given the time of the change


def _counted(rows: Iterable[_Row]) -> tuple[int, int]:
    """How many of these rows the unread and unseen counts hold."""
    listed = [row for row in rows if row.listed]
    return sum(not row.read for row in listed), sum(not row.seen for row in listed)


_READ = _Change(
    wanted=lambda row: not row.read,
    after=lambda row: row._replace(read=True, seen=True),
    values=lambda now: {"read_at": now, "seen_at": Coalesce(F("seen_at"), Value(now))},
)
_UNREAD = _Change(
    wanted=lambda row: row.read,
    after=lambda row: row._replace(read=False),
    values=lambda now: {"read_at": None},
)
_SEEN = _Change(
    wanted=lambda row: not row.seen,
    after=lambda row: row._replace(seen=True),
    values=lambda now: {"seen_at": now},
)
_ARCHIVE = _Change(
    wanted=lambda row: not row.archived,
    after=lambda row: row._replace(archived=True, snoozed=False),
    values=lambda now: {"archived_at": now, "snoozed_until": None},
)
_UNARCHIVE = _Change(
    wanted=lambda row: row.archived,
    after=lambda row: row._replace(archived=False),
    values=lambda now: {"archived_at": None},
)


def _change(
    user: Any, ids: list[int] | None, kind: str, change: _Change, **extra: Any
) -> list[int]:
    """Apply one state change to the user's notifications (``ids``; None: every unread one in the
    inbox), adjust the counts by what changed, and publish ``kind`` after commit."""
    _require_saved(user)
    using = router.db_for_write(Notification)
    with transaction.atomic(using=using):
        inboxes = InboxState.objects.using(using)
        inboxes.lock([user.pk])
        mine = Notification.objects.using(using).filter(recipient_id=user.pk)
        selected = mine.inbox().unread().order_by("seq") if ids is None else mine.filter(pk__in=ids)
        rows = {
            pk: _Row(
                read_at is not None, seen_at is not None, archived_at is not None, until is not None
            )
            for pk, read_at, seen_at, archived_at, until in selected.values_list(
                "pk", "read_at", "seen_at", "archived_at", "snoozed_until"
            )
        }
        if ids is None:
            ids = list(rows)
        missing = [pk for pk in ids if pk not in rows]
        if missing:
            raise NotificationNotFound(missing)
        changed = [pk for pk in ids if change.wanted(rows[pk])]
        if not changed:
            return []
        mine.filter(pk__in=changed).update(**change.values(timezone.now()))
        before = _counted(rows[pk] for pk in changed)
        after = _counted(change.after(rows[pk]) for pk in changed)
        inboxes.add_counts([user.pk], after[0] - before[0], after[1] - before[1])
        if kind == protocol.UNARCHIVED:
            # The inbox may never have held them: the clients get them whole.
            extra["notifications"] = [
                protocol.notification_payload(n)
                for n in mine.filter(pk__in=changed).order_by("seq")
            ]
        _published(kind, {user.pk: changed}, {user.pk: user}, using, **extra)
    return changed


def _deleted(by_user: dict[Any, list[int]], users: Mapping[Any, Any], using: str) -> int:
    """Delete these notifications (ids by recipient pk) and publish it: the api's one delete path."""
    doomed = Notification.objects.using(using).filter(
        pk__in=[pk for ids in by_user.values() for pk in ids]
    )
    (_, per_model), _ = doomed.delete_counted()
    _published(protocol.DELETED, by_user, users, using)
    return per_model.get(Notification._meta.label, 0)


_SIGNALS = {
    protocol.READ: signals.notifications_read,
    protocol.UNREAD: signals.notifications_unread,
    protocol.DELETED: signals.notifications_deleted,
    protocol.SEEN: signals.notifications_seen,
    protocol.ARCHIVED: signals.notifications_archived,
    protocol.UNARCHIVED: signals.notifications_unarchived,
    protocol.SNOOZED: signals.notifications_snoozed,
}


def _published(
    kind: str,
    by_user: dict[Any, list[int]],
    users: Mapping[Any, Any],
    using: str,
    **extra: Any,
) -> None:
    """After commit: push one ``kind`` frame per user to their sockets, then send the signal.

    The frames carry the counts as they are now, read under the inbox locks the change holds.
    """
    counts = {
        pk: (unread, unseen)
        for pk, unread, unseen in InboxState.objects.using(using)
        .filter(user_id__in=list(by_user))
        .values_list("user_id", "unread_count", "unseen_count")
    }
    frames = {
        pk: protocol.ids_frame(kind, ids, *counts.get(pk, (0, 0)), **extra)
        for pk, ids in by_user.items()
    }

    def publish() -> None:
        delivery.send(delivery.frame_messages(frames))
        for pk, ids in by_user.items():
            if pk in users:
                _SIGNALS[kind].send(sender=Notification, user=users[pk], ids=ids)

    transaction.on_commit(publish, using=using, robust=True)
