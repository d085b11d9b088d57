"""The inbox: seq per recipient and an exact O(1) unread count through every change of read state."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from notifications import api, notify, protocol
from notifications.exceptions import NotificationNotFound
from notifications.models import InboxState, Notification
from tests.conftest import make_user

User = get_user_model()


def real_unread(user: Any) -> int:
    return Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).count()


def assert_exact(user: Any, expected: int) -> None:
    """The stored count, the API's count and the real COUNT agree."""
    assert real_unread(user) == expected
    assert api.unread_count(user) == expected
    assert InboxState.objects.get(user_id=user.pk).unread_count == expected


def make(user: Any, n: int) -> list[int]:
    return [notify(user, f"n{i}")[0].pk for i in range(n)]


def test_custom_user_model_with_uuid_pk_is_used(alice: Any) -> None:
    assert User._meta.label == "testapp.User"
    assert isinstance(alice.pk, uuid.UUID)
    [n] = notify(alice, "x")
    assert Notification.objects.get(pk=n.pk).recipient == alice
    assert alice.notifications.get() == n  # related_name
    assert alice.notification_inbox.last_seq == 1


def test_create_counts(alice: Any, bob: Any) -> None:
    make(alice, 3)
    notify([alice, bob], "both")
    assert_exact(alice, 4)
    assert_exact(bob, 1)
    assert InboxState.objects.get(user=alice).last_seq == 4


def test_a_user_without_notifications_has_zero(alice: Any) -> None:
    assert api.unread_count(alice) == 0
    assert api.inbox(alice) == (0, 0)


def test_mark_read_counts_and_returns_what_changed(alice: Any) -> None:
    ids = make(alice, 4)
    assert api.mark_read(alice, ids[:2]) == ids[:2]
    assert_exact(alice, 2)
    # Already read: nothing changes, nothing is counted twice.
    assert api.mark_read(alice, ids[:3]) == [ids[2]]
    assert_exact(alice, 1)
    assert api.mark_read(alice, ids[:3]) == []
    assert_exact(alice, 1)
    assert Notification.objects.get(pk=ids[0]).read_at is not None


def test_mark_read_accepts_a_single_id_and_dedupes(alice: Any) -> None:
    ids = make(alice, 2)
    assert api.mark_read(alice, ids[0]) == [ids[0]]
    assert api.mark_read(alice, [ids[1], ids[1]]) == [ids[1]]
    assert_exact(alice, 0)


def test_mark_unread(alice: Any) -> None:
    ids = make(alice, 3)
    api.mark_all_read(alice)
    assert api.mark_unread(alice, ids[:2]) == ids[:2]
    assert_exact(alice, 2)
    assert api.mark_unread(alice, ids) == [ids[2]]
    assert_exact(alice, 3)
    assert api.mark_unread(alice, ids) == []
    assert_exact(alice, 3)


def test_mark_all_read(alice: Any, bob: Any) -> None:
    ids = make(alice, 5)
    make(bob, 2)
    api.mark_read(alice, [ids[1]])
    assert api.mark_all_read(alice) == [ids[0], *ids[2:]]  # in seq order, only those that changed
    assert_exact(alice, 0)
    assert_exact(bob, 2)
    assert api.mark_all_read(alice) == []
    assert_exact(alice, 0)


def test_mark_all_read_for_a_user_who_never_had_any(alice: Any) -> None:
    assert api.mark_all_read(alice) == []
    assert api.unread_count(alice) == 0
    assert not InboxState.objects.filter(user=alice).exists()  # nothing to lock, nothing written


def test_api_delete(alice: Any) -> None:
    ids = make(alice, 4)
    api.mark_read(alice, ids[:1])
    assert api.delete(alice, ids[:2]) == ids[:2]  # one read, one unread
    assert_exact(alice, 2)
    assert not Notification.objects.filter(pk__in=ids[:2]).exists()


def test_foreign_ids_raise_and_change_nothing(alice: Any, bob: Any) -> None:
    mine = make(alice, 2)
    theirs = make(bob, 1)
    for change in (api.mark_read, api.delete, api.mark_unread):
        with pytest.raises(NotificationNotFound) as info:
            change(alice, [mine[0], theirs[0]])
        assert info.value.ids == theirs
    assert_exact(alice, 2)
    assert_exact(bob, 1)
    assert Notification.objects.count() == 3


@pytest.mark.parametrize("user", [None, "anonymous", "alice"])
def test_read_state_changes_need_a_saved_user(alice: Any, user: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    from notifications.exceptions import InvalidRecipients

    user = {"anonymous": AnonymousUser(), "alice": "alice"}.get(user)
    [n] = notify(alice, "x")
    for change in (api.mark_read, api.mark_unread, api.delete):
        with pytest.raises(InvalidRecipients):
            change(user, [n.pk])
    with pytest.raises(InvalidRecipients):
        api.mark_all_read(user)
    assert_exact(alice, 1)
    assert not InboxState.objects.exclude(user=alice).exists()


def test_missing_ids_raise(alice: Any) -> None:
    ids = make(alice, 1)
    with pytest.raises(NotificationNotFound):
        api.mark_read(alice, [ids[0], ids[0] + 1000])
    assert_exact(alice, 1)


@pytest.mark.parametrize("bad", [[], "1", None, [True], [0], [-1], ["1"], [1.5], [2**63]])
def test_bad_ids_raise_invalid_notification(alice: Any, bad: Any) -> None:
    from notifications.exceptions import InvalidNotification

    with pytest.raises(InvalidNotification):
        api.mark_read(alice, bad)


def test_too_many_ids(alice: Any, settings: Any) -> None:
    from notifications.exceptions import InvalidNotification

    settings.NOTIFICATIONS = {"MAX_IDS": 3}
    ids = make(alice, 4)
    with pytest.raises(InvalidNotification):
        api.mark_read(alice, ids)
    assert api.mark_read(alice, ids[:3]) == ids[:3]


def test_queryset_delete_across_users(alice: Any, bob: Any) -> None:
    a = make(alice, 4)
    b = make(bob, 3)
    api.mark_read(alice, a[:1])
    api.mark_read(bob, b[:2])
    _, deleted = Notification.objects.filter(pk__in=[*a[:3], *b]).delete()
    assert deleted[Notification._meta.label] == 6  # and their email queue rows, by cascade
    assert_exact(alice, 1)
    assert_exact(bob, 0)


def test_queryset_delete_of_read_ones_keeps_the_count(alice: Any) -> None:
    ids = make(alice, 3)
    api.mark_read(alice, ids[:2])
    Notification.objects.read().delete()
    assert_exact(alice, 1)


def test_delete_everything(alice: Any, bob: Any) -> None:
    make(alice, 3)
    make(bob, 2)
    Notification.objects.all().delete()
    assert_exact(alice, 0)
    assert_exact(bob, 0)


def test_instance_delete(alice: Any) -> None:
    ids = make(alice, 3)
    api.mark_read(alice, ids[:1])
    Notification.objects.get(pk=ids[0]).delete()  # read
    assert_exact(alice, 2)
    Notification.objects.get(pk=ids[1]).delete()  # unread
    assert_exact(alice, 1)


def test_stale_instance_delete_uses_the_stored_read_state(alice: Any) -> None:
    [n] = notify(alice, "x")
    api.mark_read(alice, [n.pk])  # n in memory still says unread
    n.delete()
    assert_exact(alice, 0)


def test_deleting_an_instance_twice_counts_once(alice: Any) -> None:
    make(alice, 2)
    n = Notification.objects.first()
    assert n is not None
    pk = n.pk
    n.delete()
    Notification(pk=pk, recipient_id=alice.pk, seq=n.seq).delete()  # the row is gone already
    assert_exact(alice, 1)


def test_deleting_the_user_removes_the_inbox(alice: Any, bob: Any) -> None:
    make(alice, 2)
    make(bob, 1)
    alice.delete()
    assert not Notification.objects.filter(recipient_id=alice.pk).exists()
    assert not InboxState.objects.filter(user_id=alice.pk).exists()
    assert_exact(bob, 1)


def test_a_long_mixed_history_stays_exact(alice: Any, bob: Any) -> None:
    ids = make(alice, 10)
    notify([alice, bob], "both")
    api.mark_read(alice, ids[::2])
    api.mark_unread(alice, ids[:4])
    api.delete(alice, ids[5:7])
    Notification.objects.filter(pk__in=ids[7:9]).delete()
    Notification.objects.get(pk=ids[9]).delete()
    notify(alice, "later")
    api.mark_read(alice, ids[4:5])
    assert_exact(alice, real_unread(alice))
    api.mark_all_read(alice)
    assert_exact(alice, 0)
    assert_exact(bob, 1)


def test_unread_count_is_one_query_and_no_count(alice: Any) -> None:
    make(alice, 3)
    with CaptureQueriesContext(connection) as ctx:
        assert api.unread_count(alice) == 3
    assert len(ctx.captured_queries) == 1
    sql = ctx.captured_queries[0]["sql"].upper()
    assert "COUNT(" not in sql
    assert "NOTIFICATIONS_NOTIFICATION" not in sql  # reads the inbox row only


def test_unread_count_of_a_new_user_is_one_query(alice: Any) -> None:
    with CaptureQueriesContext(connection) as ctx:
        assert api.unread_count(alice) == 0
    assert len(ctx.captured_queries) == 1


def test_unread_count_of_anonymous_is_zero_without_sql(db: None) -> None:
    from django.contrib.auth.models import AnonymousUser

    with CaptureQueriesContext(connection) as ctx:
        assert api.unread_count(AnonymousUser()) == 0
        assert api.unread_count(None) == 0
    assert ctx.captured_queries == []


def test_since_returns_the_users_newer_notifications_in_seq_order(alice: Any, bob: Any) -> None:
    make(alice, 5)
    make(bob, 5)
    assert [n.seq for n in api.since(alice, 1, 3)] == [2, 3, 4]
    assert {n.recipient_id for n in api.since(alice, 0, 100)} == {alice.pk}
    assert api.since(alice, 5, 10) == []


def test_seq_is_unique_per_recipient(alice: Any, bob: Any) -> None:
    [n] = notify(alice, "x")
    Notification.objects.create(recipient=bob, seq=n.seq, verb="same seq, other user")
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(recipient=alice, seq=n.seq, verb="dup")


def test_queryset_helpers(alice: Any, bob: Any) -> None:
    ids = make(alice, 3)
    make(bob, 1)
    api.mark_read(alice, ids[:1])
    mine = Notification.objects.for_user(alice)
    assert sorted(mine.values_list("pk", flat=True)) == ids
    assert sorted(mine.unread().values_list("pk", flat=True)) == ids[1:]
    assert list(mine.read().values_list("pk", flat=True)) == ids[:1]


def test_str_and_is_read(alice: Any) -> None:
    [n] = notify(alice, "commented", title="Bob commented")
    assert str(n) == "Bob commented"
    [m] = notify(alice, "commented")
    assert str(m) == "commented"
    assert not n.is_read
    api.mark_read(alice, [n.pk])
    n.refresh_from_db()
    assert n.is_read
    assert "1 unread" in str(InboxState.objects.get(user=alice))


# Concurrency (PostgreSQL: real row locks between threads)


def run_threads(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(i) in n threads started together; re-raise the first error."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def target(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    if errors:
        raise errors[0]
    return results


def require_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL for real concurrent transactions: "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/test"
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_for_one_user_give_exact_seqs() -> None:
    require_postgres()
    alice = make_user("alice")  # no inbox row yet: the threads race to create it too

    def work(i: int) -> None:
        for j in range(25):
            notify(alice, f"t{i}-{j}")

    run_threads(8, work)
    seqs = list(
        Notification.objects.filter(recipient=alice).order_by("seq").values_list("seq", flat=True)
    )
    assert seqs == list(range(1, 201))
    assert_exact(alice, 200)
    assert InboxState.objects.get(user=alice).last_seq == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_multi_recipient_creates_in_opposite_orders_do_not_deadlock() -> None:
    require_postgres()
    users = [make_user(f"user{i}") for i in range(6)]  # no inbox rows yet

    def work(i: int) -> None:
        order = users if i % 2 else list(reversed(users))
        for j in range(10):
            notify(order, f"t{i}-{j}")

    run_threads(8, work)
    for user in users:
        seqs = list(
            Notification.objects.filter(recipient=user)
            .order_by("seq")
            .values_list("seq", flat=True)
        )
        assert seqs == list(range(1, 81))
        assert_exact(user, 80)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_mark_read_of_the_same_ids_counts_each_once() -> None:
    require_postgres()
    alice = make_user("alice")
    ids = make(alice, 60)

    def work(i: int) -> list[int]:
        changed: list[int] = []
        for start in range(0, 60, 10):
            changed += api.mark_read(alice, ids[start : start + 10])
        return changed

    results = run_threads(8, work)
    changed = [pk for result in results for pk in result]
    assert sorted(changed) == ids  # each id changed by exactly one thread
    assert_exact(alice, 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_reads_and_deletes_stay_exact() -> None:
    require_postgres()
    alice = make_user("alice")
    ids = make(alice, 40)

    def work(i: int) -> None:
        if i % 3 == 0:
            for j in range(10):
                notify(alice, f"new{i}-{j}")
        elif i % 3 == 1:
            api.mark_read(alice, ids[:20])
            api.mark_all_read(alice)
        else:
            Notification.objects.filter(pk__in=ids[20 + i : 24 + i]).delete()

    run_threads(6, work)
    assert_exact(alice, real_unread(alice))


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_on_the_default_database() -> None:
    # SQLite serialises writers (BEGIN IMMEDIATE); PostgreSQL locks the inbox row.
    alice = make_user("alice")

    def work(i: int) -> None:
        for j in range(10):
            notify(alice, f"t{i}-{j}")

    run_threads(4, work)
    seqs = list(
        Notification.objects.filter(recipient=alice).order_by("seq").values_list("seq", flat=True)
    )
    assert seqs == list(range(1, 41))
    assert_exact(alice, 40)


def test_group_name_of_the_custom_user_is_valid(alice: Any) -> None:
    from channels.layers import BaseChannelLayer

    assert BaseChannelLayer().require_valid_group_name(protocol.user_group(alice.pk))


def test_the_url_field_is_called_url_in_capitals() -> None:
    # Django capitalises only the first letter: "url" would show as "Url" in the admin and forms.
    assert Notification._meta.get_field("url").verbose_name == "URL"
