"""Seen, archived and snoozed notifications: the Python API, the counts, the frames, waking."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.test import TestCase
from django.utils import timezone

from notifications import api, delivery, notify, protocol, signals
from notifications.exceptions import InvalidNotification, NotificationNotFound
from notifications.models import Notification
from tests.conftest import counts_are_exact

pytestmark = pytest.mark.django_db


def frames(sent: list[list[delivery.Message]], user: Any) -> list[dict[str, Any]]:
    group = protocol.user_group(user.pk)
    return [json.loads(m["frame"]) for batch in sent for g, m in batch if g == group]


def make(user: Any, n: int) -> list[int]:
    return [notify(user, "x", title=f"n{i}")[0].pk for i in range(n)]


def counts(user: Any) -> tuple[int, int]:
    unread, unseen, _ = api.inbox_counts(user)
    return unread, unseen


def later(**delta: float) -> datetime:
    return timezone.now() + timedelta(**delta)


# Seen


def test_new_notifications_are_unseen_and_counted_without_a_count_query(alice: Any) -> None:
    make(alice, 3)
    assert counts(alice) == (3, 3)
    assert api.unseen_count(alice) == 3
    counts_are_exact()


def test_mark_seen_lowers_unseen_only(alice: Any, sent: Any) -> None:
    ids = make(alice, 3)
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert api.mark_seen(alice, ids[:2]) == ids[:2]
    assert counts(alice) == (3, 1)
    assert frames(sent, alice)[-1] == {
        "type": "seen",
        "ids": ids[:2],
        "unread_count": 3,
        "unseen_count": 1,
    }
    assert api.mark_seen(alice, ids[:2]) == []  # nothing counted twice
    counts_are_exact()


def test_reading_is_seeing(alice: Any) -> None:
    ids = make(alice, 2)
    api.mark_seen(alice, ids[:1])
    seen_at = Notification.objects.get(pk=ids[0]).seen_at
    api.mark_all_read(alice)
    assert counts(alice) == (0, 0)
    assert Notification.objects.get(pk=ids[0]).seen_at == seen_at  # the first sight is kept
    api.mark_unread(alice, ids)
    assert counts(alice) == (2, 0)  # unread again, but seen
    counts_are_exact()


def test_foreign_ids_change_nothing(alice: Any, bob: Any) -> None:
    mine, theirs = make(alice, 1), make(bob, 1)
    for change in (api.mark_seen, api.archive, api.unarchive):
        with pytest.raises(NotificationNotFound):
            change(alice, mine + theirs)
    with pytest.raises(NotificationNotFound):
        api.snooze(alice, mine + theirs, later(hours=1))
    assert (
        Notification.objects.filter(seen_at=None, archived_at=None, snoozed_until=None).count() == 2
    )
    counts_are_exact()


# Archived


def test_archive_leaves_the_inbox_and_its_counts(alice: Any, sent: Any) -> None:
    ids = make(alice, 3)
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert api.archive(alice, ids[:2]) == ids[:2]
    assert counts(alice) == (1, 1)
    assert frames(sent, alice)[-1] == {
        "type": "archived",
        "ids": ids[:2],
        "unread_count": 1,
        "unseen_count": 1,
    }
    mine = Notification.objects.for_user(alice)
    assert list(mine.inbox().values_list("pk", flat=True)) == ids[2:]
    assert sorted(mine.archived().values_list("pk", flat=True)) == ids[:2]
    # Reading or deleting an archived one leaves the inbox's counts alone.
    api.mark_read(alice, ids[:1])
    api.delete(alice, ids[1:2])
    assert counts(alice) == (1, 1)
    counts_are_exact()


def test_mark_all_read_leaves_the_archive_alone(alice: Any) -> None:
    ids = make(alice, 2)
    api.archive(alice, ids[:1])
    assert api.mark_all_read(alice) == ids[1:]
    assert Notification.objects.get(pk=ids[0]).read_at is None
    counts_are_exact()


def test_unarchive_brings_it_back_with_the_notification(alice: Any, sent: Any) -> None:
    ids = make(alice, 2)
    api.archive(alice, ids)
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert api.unarchive(alice, ids[1:]) == ids[1:]
    assert counts(alice) == (1, 1)
    frame = frames(sent, alice)[-1]
    assert frame["type"] == "unarchived" and frame["ids"] == ids[1:]
    assert [n["id"] for n in frame["notifications"]] == ids[1:]
    assert frame["notifications"][0]["archived"] is False
    assert (frame["unread_count"], frame["unseen_count"]) == (1, 1)
    assert api.unarchive(alice, ids[1:]) == []
    counts_are_exact()


def test_state_signals_after_commit(alice: Any) -> None:
    heard: list[tuple[str, list[int]]] = []

    def receiver(name: str) -> Any:
        return lambda sender, user, ids, **kw: heard.append((name, ids))

    hooks = {
        "seen": signals.notifications_seen,
        "archived": signals.notifications_archived,
        "unarchived": signals.notifications_unarchived,
        "snoozed": signals.notifications_snoozed,
    }
    handlers = {name: receiver(name) for name in hooks}
    for name, signal in hooks.items():
        signal.connect(handlers[name])
    try:
        [n] = make(alice, 1)
        with TestCase.captureOnCommitCallbacks(execute=True):
            api.mark_seen(alice, [n])
            api.archive(alice, [n])
            api.unarchive(alice, [n])
            api.snooze(alice, [n], later(hours=1))
            assert heard == []
        assert heard == [("seen", [n]), ("archived", [n]), ("unarchived", [n]), ("snoozed", [n])]
    finally:
        for name, signal in hooks.items():
            signal.disconnect(handlers[name])


# Snoozed


def test_snooze_leaves_the_inbox_until_it_wakes(alice: Any, sent: Any) -> None:
    ids = make(alice, 3)
    api.mark_read(alice, ids[:1])
    until = later(hours=1)
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert api.snooze(alice, ids[:2], until) == ids[:2]
    assert counts(alice) == (1, 1)
    frame = frames(sent, alice)[-1]
    assert frame["type"] == "snoozed" and frame["ids"] == ids[:2]
    assert frame["until"] == until.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert [n.pk for n in api.since(alice, 0, 10)] == ids[2:]  # catch-up leaves them out
    api.archive(alice, ids[2:])
    assert api.since(alice, 0, 10) == []  # and the archived ones
    api.unarchive(alice, ids[2:])
    counts_are_exact()

    assert api.wake_snoozed(now=until - timedelta(seconds=1)) == 0
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert api.wake_snoozed(now=until) == 2
    # Back as new: unread and unseen (the read one too), at the top with new seqs, pushed live.
    woken = list(Notification.objects.filter(pk__in=ids[:2]).order_by("seq"))
    assert [(n.pk, n.seq) for n in woken] == [(ids[0], 4), (ids[1], 5)]
    assert all(n.read_at is None and n.seen_at is None and n.snoozed_until is None for n in woken)
    assert counts(alice) == (3, 3)
    assert api.inbox(alice) == (3, 5)
    *pushed_frames, last = frames(sent, alice)[-3:]
    pushed = [f["notification"] for f in pushed_frames]
    assert [(p["id"], p["seq"], p["read"]) for p in pushed] == [
        (ids[0], 4, False),
        (ids[1], 5, False),
    ]
    assert last == {"type": "unread", "ids": ids[:2], "unread_count": 3, "unseen_count": 3}
    assert api.wake_snoozed(now=until) == 0
    counts_are_exact()


def test_archive_ends_a_snooze_and_snooze_ends_an_archive(alice: Any) -> None:
    [n] = make(alice, 1)
    api.snooze(alice, [n], later(hours=1))
    api.archive(alice, [n])
    assert Notification.objects.get(pk=n).snoozed_until is None
    api.snooze(alice, [n], later(hours=1))
    assert Notification.objects.get(pk=n).archived_at is None
    api.unarchive(alice, [n])  # not archived: nothing to do
    assert counts(alice) == (0, 0)
    counts_are_exact()


@pytest.mark.parametrize(
    "until",
    [datetime(2030, 1, 1), timezone.now() - timedelta(minutes=1), "2030-01-01T00:00:00Z"],
)
def test_snooze_needs_an_aware_time_to_come(alice: Any, until: Any) -> None:
    ids = make(alice, 1)
    with pytest.raises(InvalidNotification):
        api.snooze(alice, ids, until)
    assert counts(alice) == (1, 1)


def test_snooze_presets_in_the_users_time_zone() -> None:
    # Sunday 30 November 2026, 23:30 in Paris (22:30 UTC).
    now = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)
    paris = ZoneInfo("Europe/Paris")
    assert api.snooze_until("1h", now=now) == now + timedelta(hours=1)
    assert api.snooze_until("tomorrow", "Europe/Paris", now=now) == datetime(
        2026, 12, 1, 9, tzinfo=paris
    )
    # In New York it is still Sunday afternoon: tomorrow is Monday there.
    assert api.snooze_until("next_week", "America/New_York", now=now) == datetime(
        2026, 12, 7, 9, tzinfo=ZoneInfo("America/New_York")
    )
    assert api.snooze_until("next_week", paris, now=now) == datetime(2026, 12, 7, 9, tzinfo=paris)
    with timezone.override(paris):
        assert api.snooze_until("tomorrow", now=now).hour == 9
    for preset, tz in (("someday", ""), ("tomorrow", "Mars/Olympus"), ("tomorrow", "../etc")):
        with pytest.raises(InvalidNotification):
            api.snooze_until(preset, tz, now=now)


def test_wake_snoozed_command(alice: Any) -> None:
    ids = make(alice, 2)
    past = timezone.now()
    api.snooze(alice, ids, later(seconds=30))
    Notification.objects.filter(pk__in=ids).update(snoozed_until=past)
    out = StringIO()
    call_command("wake_snoozed", stdout=out)
    assert "Woke 2 notifications." in out.getvalue()
    assert counts(alice) == (2, 2)
    counts_are_exact()


def test_snooze_schedules_the_wake_task_when_the_backend_can_defer(
    alice: Any, settings: Any
) -> None:
    from notifications import tasks

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    backend = tasks.default_task_backend
    backend.clear()
    ids = make(alice, 1)
    until = later(hours=2)
    with TestCase.captureOnCommitCallbacks(execute=True):
        api.snooze(alice, ids, until)
    [queued] = backend.results
    assert queued.task.func is tasks.wake_snoozed.func and queued.task.run_after == until
    # The task wakes what is due.
    Notification.objects.filter(pk__in=ids).update(snoozed_until=timezone.now())
    assert tasks.wake_snoozed.call() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_wakes_and_notifies_keep_seqs_gapless_and_counts_exact() -> None:
    from tests.conftest import make_user
    from tests.test_models import require_postgres, run_threads

    require_postgres()
    alice = make_user("alice")
    ids = make(alice, 40)
    past = timezone.now()
    api.snooze(alice, ids, later(hours=1))
    Notification.objects.filter(pk__in=ids).update(snoozed_until=past)

    def work(i: int) -> int:
        if i % 2:
            notify(alice, f"t{i}")
            return 0
        return api.wake_snoozed()

    woken = sum(run_threads(8, work))
    assert woken == 40, "every snoozed notification woke exactly once"
    seqs = list(Notification.objects.order_by("seq").values_list("seq", flat=True))
    # The 40 woken and the 4 new took the seqs after 40, once each: no gap, no repeat.
    assert seqs == list(range(41, 85))
    assert api.inbox(alice) == (44, 84)
    counts_are_exact()


# Grouped notifications (notify(group_key=...)) and the states

KEY = "post:42:comments"


@pytest.mark.parametrize("leave", ["archive", "snooze"])
def test_a_group_collapses_only_into_a_notification_in_the_inbox(alice: Any, leave: str) -> None:
    first = notify(alice, "commented", group_key=KEY)[0]
    if leave == "archive":
        api.archive(alice, [first.pk])
    else:
        api.snooze(alice, [first.pk], later(hours=1))
    second = notify(alice, "commented", group_key=KEY)[0]
    assert second.pk != first.pk and second.group_count == 1
    assert Notification.objects.get(pk=first.pk).group_count == 1
    assert counts(alice) == (1, 1)
    counts_are_exact()


def test_a_woken_group_takes_the_next_events(alice: Any) -> None:
    first = notify(alice, "commented", group_key=KEY)[0]
    until = later(hours=1)
    api.snooze(alice, [first.pk], until)
    second = notify(alice, "commented", group_key=KEY)[0]
    api.wake_snoozed(now=until)
    # Two unread groups in the inbox: the next event collapses into the newest, the woken one.
    assert notify(alice, "commented", group_key=KEY)[0].pk == first.pk
    assert Notification.objects.get(pk=second.pk).group_count == 1
    assert counts(alice) == (2, 2)
    counts_are_exact()


def test_a_collapse_into_a_seen_notification_makes_it_unseen_again(alice: Any, sent: Any) -> None:
    first = notify(alice, "commented", group_key=KEY)[0]
    api.mark_seen(alice, [first.pk])
    assert counts(alice) == (1, 0)
    with TestCase.captureOnCommitCallbacks(execute=True):
        again = notify(alice, "commented", group_key=KEY)[0]
    assert again.pk == first.pk and again.seen_at is None
    assert Notification.objects.get(pk=first.pk).seen_at is None
    assert counts(alice) == (1, 1)  # new to the user again, still one unread group
    pushed = frames(sent, alice)[-1]["notification"]
    assert (pushed["id"], pushed["group_count"], pushed["read"], pushed["seen"]) == (
        first.pk,
        2,
        False,
        False,
    )
    notify(alice, "commented", group_key=KEY)  # into an unseen one: nothing more to count
    assert counts(alice) == (1, 1)
    counts_are_exact()


@pytest.mark.parametrize("upsert", [True, False])
def test_one_grouped_notify_counts_each_recipient_by_what_it_had(
    upsert: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import connection

    from tests.conftest import make_user

    if not upsert:
        # MySQL's path: the inbox rows are created, locked, advanced without INSERT ... ON CONFLICT.
        monkeypatch.setattr(
            type(connection.features), "supports_update_conflicts_with_target", False
        )
    seen, unseen, archived, fresh = (make_user(n) for n in ("seen", "unseen", "archived", "fresh"))
    groups = {u.pk: notify(u, "commented", group_key=KEY)[0].pk for u in (seen, unseen, archived)}
    api.mark_seen(seen, [groups[seen.pk]])
    api.archive(archived, [groups[archived.pk]])
    created = {
        n.recipient_id: n for n in notify([seen, unseen, archived, fresh], "c", group_key=KEY)
    }
    assert {pk: (n.pk == groups.get(pk), n.group_count) for pk, n in created.items()} == {
        seen.pk: (True, 2),
        unseen.pk: (True, 2),
        archived.pk: (False, 1),
        fresh.pk: (False, 1),
    }
    assert [counts(u) for u in (seen, unseen, archived, fresh)] == [(1, 1)] * 4
    counts_are_exact()


@pytest.mark.django_db(transaction=True)
def test_the_migration_counts_existing_notifications_as_seen() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from tests.conftest import make_user

    alice = make_user("alice")
    ids = make(alice, 2)
    api.mark_read(alice, ids[:1])
    executor = MigrationExecutor(connection)
    executor.migrate([("notifications", "0006_grouping")])
    try:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate([("notifications", "0007_states")])
    finally:
        call_command("migrate", "notifications", verbosity=0)
    seen = dict(Notification.objects.values_list("pk", "seen_at"))
    read_at = Notification.objects.get(pk=ids[0]).read_at
    created_at = Notification.objects.get(pk=ids[1]).created_at
    assert seen == {ids[0]: read_at, ids[1]: created_at}
    assert counts(alice) == (1, 0)
    counts_are_exact()
