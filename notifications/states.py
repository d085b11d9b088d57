"""Changing the state of a user's notifications: read, unread, seen, archived, snoozed, woken.

Each change locks the user's inbox row first (``InboxState.objects.lock()``), adjusts the unread and
unseen counts by what it changed, and publishes a frame and a signal after commit (``published()``,
which the api's deletion shares). Every verb here is also importable from ``notifications.api``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import router, transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from notifications import delivery, protocol, signals
from notifications.conf import app_settings
from notifications.exceptions import InvalidNotification, InvalidRecipients, NotificationNotFound
from notifications.models import InboxState, Notification
from notifications.validation import clean_ids

__all__ = [
    "archive",
    "mark_all_read",
    "mark_read",
    "mark_seen",
    "mark_unread",
    "snooze",
    "snooze_until",
    "unarchive",
    "wake_snoozed",
]


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
        unread, unseen = (
            inboxes.filter(user_id=user_pk).values_list("unread_count", "unseen_count").get()
        )
        # After the notifications, an `unread` frame with the exact counts: a client cannot tell a
        # woken grouped notification (group_count above 1) from a collapse, which it does not count.
        counts = protocol.ids_frame(protocol.UNREAD, [n.pk for n in rows], unread, unseen)

        def publish() -> None:
            delivery.send(
                [*delivery.notification_messages(rows), *delivery.frame_messages({user_pk: counts})]
            )
            signals.notifications_woken.send(sender=Notification, notifications=rows)

        transaction.on_commit(publish, using=using, robust=True)
    return len(rows)


def _schedule_wake(until: datetime) -> None:
    # Only a backend that can defer runs the task at `until`; with any other, cron or a scheduler
    # runs wake_snoozed.
    from notifications import tasks

    if tasks.default_task_backend.supports_defer:
        tasks.wake_snoozed.using(run_after=until).enqueue()


def require_saved(user: Any) -> None:
    """Raise InvalidRecipients unless ``user`` is a saved user (every change here, and api.delete())."""
    if not getattr(user, "is_authenticated", False) or user.pk is None:
        # Not an IntegrityError that would break the caller's transaction.
        raise InvalidRecipients(f"user must be a saved user, not {user!r}.")


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
    require_saved(user)
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
        published(kind, {user.pk: changed}, {user.pk: user}, using, **extra)
    return changed


_SIGNALS = {
    protocol.READ: signals.notifications_read,
    protocol.UNREAD: signals.notifications_unread,
    protocol.DELETED: signals.notifications_deleted,
    protocol.SEEN: signals.notifications_seen,
    protocol.ARCHIVED: signals.notifications_archived,
    protocol.UNARCHIVED: signals.notifications_unarchived,
    protocol.SNOOZED: signals.notifications_snoozed,
}


def published(
    kind: str,
    by_user: dict[Any, list[int]],
    users: Mapping[Any, Any],
    using: str,
    **extra: Any,
) -> None:
    """After commit: push one ``kind`` frame per user to their sockets, then send the signal.

    ``by_user``: the changed ids by recipient pk; ``users``: the recipients the signal names.

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
