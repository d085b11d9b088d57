"""notify() and friends: recipients, seq, query count, validation, transactions, failing layers."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers, get_channel_layer
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Group
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from notifications import (
    InvalidNotification,
    InvalidRecipients,
    NotificationsError,
    anotify,
    api,
    delivery,
    notify,
    protocol,
    signals,
)
from notifications.exceptions import NotificationNotFound
from notifications.layers import redis_channel_layer
from notifications.models import InboxState, Notification
from tests.conftest import free_port, make_user, make_users
from tests.testapp.models import Article

User = get_user_model()


@pytest.fixture
def created_signals() -> Iterator[list[list[Notification]]]:
    """The `notifications` argument of every notification_created signal."""
    received: list[list[Notification]] = []

    def receiver(sender: Any, notifications: list[Notification], **kwargs: Any) -> None:
        received.append(list(notifications))

    signals.notification_created.connect(receiver, dispatch_uid="test_api.created")
    yield received
    signals.notification_created.disconnect(dispatch_uid="test_api.created")


def seqs(user: Any) -> list[int]:
    return list(
        Notification.objects.filter(recipient=user).order_by("seq").values_list("seq", flat=True)
    )


# Recipients


def test_notify_one_user(alice: Any) -> None:
    created = notify(alice, "said hello", title="Hello")
    assert [(n.recipient_id, n.verb, n.title) for n in created] == [
        (alice.pk, "said hello", "Hello")
    ]
    assert Notification.objects.get().pk == created[0].pk


@pytest.mark.parametrize("container", [list, tuple, set, iter], ids=lambda c: c.__name__)
def test_notify_iterable_of_users(alice: Any, bob: Any, container: Any) -> None:
    created = notify(container([alice, bob]), "x")
    assert sorted(n.recipient_id for n in created) == sorted([alice.pk, bob.pk])
    assert Notification.objects.count() == 2


def test_notify_queryset(alice: Any, bob: Any) -> None:
    make_user("carol", is_active=False)
    created = notify(User.objects.filter(username__in=["alice", "bob"]), "x")
    assert {n.recipient_id for n in created} == {alice.pk, bob.pk}


def test_notify_queryset_with_duplicate_rows_notifies_each_user_once(alice: Any) -> None:
    a, b = Group.objects.create(name="a"), Group.objects.create(name="b")
    alice.groups.add(a, b)
    # The join yields alice twice.
    qs = User.objects.filter(groups__in=[a, b])
    assert qs.count() == 2
    assert [n.recipient_id for n in notify(qs, "x")] == [alice.pk]


def test_notify_sliced_queryset(alice: Any, bob: Any) -> None:
    make_user("carol")
    created = notify(User.objects.order_by("username")[:2], "x")
    assert sorted(n.recipient_id for n in created) == sorted([alice.pk, bob.pk])


def test_notify_group_reaches_active_members_only(alice: Any, bob: Any) -> None:
    carol = make_user("carol", is_active=False)
    dave = make_user("dave")
    team = Group.objects.create(name="team")
    team.user_set.add(alice, bob, carol)
    created = notify(team, "x")
    assert {n.recipient_id for n in created} == {alice.pk, bob.pk}
    assert not Notification.objects.filter(recipient__in=[carol, dave]).exists()


def test_notify_dedupes_recipients(alice: Any, bob: Any) -> None:
    alice_again = User.objects.get(pk=alice.pk)  # another instance of the same user
    created = notify([alice, bob, alice_again, bob], "x")
    assert sorted(n.recipient_id for n in created) == sorted([alice.pk, bob.pk])
    assert seqs(alice) == [1]
    assert InboxState.objects.get(user=alice).unread_count == 1


@pytest.mark.parametrize(
    "empty", [[], (), set(), "queryset", "group"], ids=["list", "tuple", "set", "qs", "group"]
)
def test_notify_nobody_returns_empty_list(db: None, empty: Any) -> None:
    if empty == "queryset":
        empty = User.objects.none()
    elif empty == "group":
        empty = Group.objects.create(name="nobody")
    assert notify(empty, "x") == []
    assert not Notification.objects.exists()
    assert not InboxState.objects.exists()


@pytest.mark.parametrize(
    "bad",
    [None, "alice", b"alice", 42, AnonymousUser(), [AnonymousUser()], [None], ["alice"], object()],
    ids=repr,
)
def test_bad_recipients_raise(alice: Any, bad: Any) -> None:
    with pytest.raises(InvalidRecipients):
        notify(bad, "x")
    assert not Notification.objects.exists()


def test_unsaved_user_is_refused(db: None) -> None:
    with pytest.raises(InvalidRecipients, match="not saved"):
        notify(User(username="ghost"), "x")  # its UUID pk is set before it is saved
    assert not Notification.objects.exists()


def test_unsaved_actor_is_refused(alice: Any) -> None:
    with pytest.raises(InvalidNotification, match="actor"):
        notify(alice, "x", actor=User(username="ghost"))


def test_queryset_of_another_model_is_refused(db: None) -> None:
    Article.objects.create(title="a")
    with pytest.raises(InvalidRecipients, match="Article"):
        notify(Article.objects.all(), "x")


def test_mixed_list_with_a_stranger_is_refused_as_a_whole(alice: Any) -> None:
    with pytest.raises(InvalidRecipients):
        notify([alice, Article.objects.create(title="a")], "x")
    assert not Notification.objects.exists()


# seq


def test_seq_counts_per_recipient(alice: Any, bob: Any) -> None:
    for _ in range(3):
        notify(alice, "x")
    notify([alice, bob], "y")
    notify(bob, "z")
    assert seqs(alice) == [1, 2, 3, 4]
    assert seqs(bob) == [1, 2]


def test_returned_notifications_carry_their_seq_and_pk(alice: Any, bob: Any) -> None:
    notify(alice, "first")
    created = notify([alice, bob], "second")
    by_user = {n.recipient_id: n for n in created}
    assert by_user[alice.pk].seq == 2 and by_user[bob.pk].seq == 1
    for n in created:
        assert Notification.objects.get(pk=n.pk).seq == n.seq


def test_seq_is_never_reused_after_delete(alice: Any) -> None:
    created = [notify(alice, str(i))[0] for i in range(3)]
    api.delete(alice, [created[-1].pk])
    created[0].delete()
    assert notify(alice, "again")[0].seq == 4
    assert seqs(alice) == [2, 4]


def test_seq_continues_across_batches(alice: Any, settings: Any) -> None:
    settings.NOTIFICATIONS = {"BATCH_SIZE": 2}
    users = [alice, *make_users(4)]
    notify(users, "x")
    notify(users, "y")
    for user in users:
        assert seqs(user) == [1, 2]


# Query count


def _queries_for(recipients: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        created = notify(recipients, "x", title="t")
    assert len(created) == len({n.recipient_id for n in created})
    return len(ctx.captured_queries)


def test_query_count_is_constant_in_the_number_of_recipients(db: None) -> None:
    users = make_users(103)
    small, large = users[:3], users[3:]
    # The same statements for 3 and 100 recipients, on every database (INSERT ... SELECT).
    assert _queries_for(small) == _queries_for(large)
    # Again, now that the users' inbox rows exist.
    assert _queries_for(small) == _queries_for(large)


def test_query_count_is_constant_for_querysets_and_groups(db: None) -> None:
    users = make_users(103)
    few, many = Group.objects.create(name="few"), Group.objects.create(name="many")
    few.user_set.add(*users[:3])
    many.user_set.add(*users[3:])
    assert _queries_for(few) == _queries_for(many)
    qs_few = User.objects.filter(pk__in=[u.pk for u in users[:3]])
    qs_many = User.objects.filter(pk__in=[u.pk for u in users[3:]])
    assert _queries_for(qs_few) == _queries_for(qs_many)


@pytest.mark.postgres
def test_query_count_is_exactly_the_same_on_postgres(db: None) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (DATABASE_URL=postgres://...): SQLite splits large INSERTs")
    users = make_users(103)
    assert _queries_for(users[:3]) == _queries_for(users[3:])


# The statements of one notify(), without the transaction's own (BEGIN, SAVEPOINT, RELEASE ...):
# one upsert of the inbox rows (which allocates the seqs) and one INSERT ... SELECT of the rows, both
# leaving out who turned in_app off, then the email backend's INSERT ... SELECT of the digest queue.
# On PostgreSQL the upsert is a data-modifying CTE of the INSERT.
STATEMENTS = {"postgresql": 2, "sqlite": 3}
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")


def _statements_of(recipients: Any) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        notify(recipients, "x", title="t")
    return [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)]


@pytest.mark.parametrize("inbox_rows", ["new", "existing"])
def test_statements_per_notify_are_pinned_per_database(db: None, inbox_rows: str) -> None:
    users = make_users(5)
    if inbox_rows == "existing":
        notify(users, "before")
    assert len(_statements_of(users[0])) == STATEMENTS[connection.vendor]
    assert len(_statements_of(users)) == STATEMENTS[connection.vendor]
    before = [[1]] * 5 if inbox_rows == "existing" else [[]] * 5
    assert [seqs(u) for u in users] == [
        [*b, len(b) + 1, len(b) + 2] if i == 0 else [*b, len(b) + 1] for i, b in enumerate(before)
    ]


def test_databases_without_upsert_lock_and_advance_the_inboxes(
    alice: Any, bob: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MySQL has no INSERT ... ON CONFLICT ... DO UPDATE: create, lock, advance, then insert.
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL always takes the single statement")
    monkeypatch.setattr(type(connection.features), "supports_update_conflicts_with_target", False)
    notify(alice, "first")
    statements = _statements_of([alice, bob])
    # the preferences read, then create, lock, advance, insert, and the email queue
    assert len(statements) == 6
    assert "FOR UPDATE" in statements[2] or connection.vendor == "sqlite"  # SQLite locks the file
    assert (seqs(alice), seqs(bob)) == ([1, 2], [1])
    assert (api.unread_count(alice), api.unread_count(bob)) == (2, 1)


# Fields


def test_actor_target_and_action_object_are_stored_with_display(alice: Any, bob: Any) -> None:
    post = Article.objects.create(title="Release notes")
    comment = Article.objects.create(title="Looks good")
    [n] = notify(alice, "commented", actor=bob, target=post, action_object=comment)
    n = Notification.objects.get(pk=n.pk)
    assert n.actor == bob and n.target == post and n.action_object == comment
    assert (n.actor_display, n.target_display, n.action_object_display) == (
        "bob",
        "Release notes",
        "Looks good",
    )
    assert n.actor_object_id == str(bob.pk)  # a UUID pk, stored as text
    assert n.actor_content_type == ContentType.objects.get_for_model(User)


def test_display_is_captured_at_creation(alice: Any) -> None:
    post = Article.objects.create(title="Old title")
    [n] = notify(alice, "x", target=post)
    post.title = "New title"
    post.save()
    assert Notification.objects.get(pk=n.pk).target_display == "Old title"


def test_long_display_is_truncated(alice: Any) -> None:
    post = Article.objects.create(title="t" * 200)
    post.title = "t" * 300  # str() longer than the display column
    [n] = notify(alice, "x", target=post)
    assert Notification.objects.get(pk=n.pk).target_display == "t" * 255


def test_all_fields_are_stored(alice: Any) -> None:
    [n] = notify(
        alice,
        "deployed",
        title="Deploy done",
        body="All green",
        url="/deploys/3/",
        level="success",
        category="ci.deploys",
        data={"build": 3, "tags": ["a"]},
    )
    n = Notification.objects.get(pk=n.pk)
    assert (n.verb, n.title, n.body, n.url, n.level, n.category, n.data) == (
        "deployed",
        "Deploy done",
        "All green",
        "/deploys/3/",
        "success",
        "ci.deploys",
        {"build": 3, "tags": ["a"]},
    )
    assert n.read_at is None and n.created_at is not None


def test_defaults(alice: Any) -> None:
    [n] = notify(alice, "x")
    assert (n.title, n.body, n.url, n.level, n.category, n.data) == ("", "", "", "info", "", {})
    assert n.actor is None and n.target is None and n.action_object is None


def test_lazy_strings_are_accepted(alice: Any) -> None:
    from django.urls import reverse_lazy
    from django.utils.translation import gettext_lazy

    [n] = notify(
        alice,
        gettext_lazy("commented"),
        title=gettext_lazy("New comment"),
        body=gettext_lazy("Body"),
        category=gettext_lazy("comments"),
        url=reverse_lazy("notifications:api-list"),
    )
    n = Notification.objects.get(pk=n.pk)
    assert (n.verb, n.title, n.body, n.category, n.url) == (
        "commented",
        "New comment",
        "Body",
        "comments",
        "/notifications/api/",
    )


def test_level_enum_is_accepted(alice: Any) -> None:
    from notifications import Level

    assert notify(alice, "x", level=Level.WARNING)[0].level == "warning"


def test_data_is_stored_as_plain_json(alice: Any) -> None:
    [n] = notify(alice, "x", data={"t": (1, 2)})
    assert n.data == {"t": [1, 2]}  # what is returned is what the client gets


# Validation


@pytest.mark.parametrize(
    "url",
    [
        "",
        "/",
        "/x",
        "/posts/3/?tab=comments#c7",
        "http://example.com",
        "https://example.com/a/b?c=d",
        "https://127.0.0.1:8000/",
    ],
)
def test_good_urls_are_accepted(alice: Any, url: str) -> None:
    assert notify(alice, "x", url=url)[0].url == url


@pytest.mark.parametrize(
    "url",
    [
        "//evil.example",
        "///evil.example",
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:x",
        "ftp://example.com/",
        "x",
        "posts/3/",
        "http:/x",
        "https://",
        "/\\evil.example",
        "\\\\evil.example",
        "/a b",
        " /x",
        "/x\n",
        "/x\x00",
        "/" + "a" * 2048,
    ],
)
def test_bad_urls_are_refused(alice: Any, url: str) -> None:
    with pytest.raises(InvalidNotification):
        notify(alice, "x", url=url)
    assert not Notification.objects.exists()


@pytest.mark.parametrize("level", ["info", "success", "warning", "error"])
def test_the_four_levels_are_accepted(alice: Any, level: str) -> None:
    assert notify(alice, "x", level=level)[0].level == level


@pytest.mark.parametrize("level", ["debug", "INFO", "", None, "critical", 20])
def test_other_levels_are_refused(alice: Any, level: Any) -> None:
    with pytest.raises(InvalidNotification, match="level"):
        notify(alice, "x", level=level)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"verb": ""}, "verb"),
        ({"verb": "   "}, "verb"),
        ({"verb": None}, "verb"),
        ({"verb": "v" * 256}, "verb"),
        ({"title": "t" * 256}, "title"),
        ({"title": None}, "title"),
        ({"body": 3}, "body"),
        ({"url": None}, "url"),
        ({"category": "has space"}, "category"),
        ({"category": "ünïcode"}, "category"),
        ({"category": "c" * 65}, "category"),
        ({"data": {"x": {1, 2}}}, "data"),
        ({"data": {"x": object()}}, "data"),
        ({"data": {"x": math.nan}}, "data"),
        ({"actor": "bob"}, "actor"),
        ({"target": 3}, "target"),
        ({"action_object": Article(title="unsaved")}, "action_object"),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_bad_arguments_raise_invalid_notification(
    alice: Any, kwargs: dict[str, Any], match: str
) -> None:
    kwargs = {"verb": "x", **kwargs}
    verb = kwargs.pop("verb")
    with pytest.raises(InvalidNotification, match=match):
        notify(alice, verb, **kwargs)
    assert not Notification.objects.exists()
    assert not InboxState.objects.filter(last_seq__gt=0).exists()


def test_exception_family() -> None:
    assert issubclass(InvalidNotification, NotificationsError)
    assert issubclass(InvalidNotification, ValueError)
    assert issubclass(InvalidRecipients, NotificationsError)
    assert issubclass(InvalidRecipients, TypeError)
    assert issubclass(NotificationNotFound, NotificationsError)
    assert issubclass(NotificationNotFound, LookupError)


def test_standard_exceptions_catch_them(alice: Any) -> None:
    with pytest.raises(ValueError):
        notify(alice, "x", level="nope")
    with pytest.raises(TypeError):
        notify("alice", "x")
    with pytest.raises(LookupError):
        api.mark_read(alice, [987654])


def test_validation_comes_before_any_query(alice: Any) -> None:
    with CaptureQueriesContext(connection) as ctx, pytest.raises(InvalidNotification):
        notify(alice, "x", url="javascript:alert(1)")
    assert ctx.captured_queries == []


# Transactions: delivery and the signal after commit only


def test_nothing_is_delivered_before_commit(
    alice: Any, django_capture_on_commit_callbacks: Any, sent: list[Any], created_signals: list[Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        created = notify(alice, "x")
        assert sent == [] and created_signals == []
    assert len(callbacks) == 1
    [[(group, message)]] = sent
    assert group == protocol.user_group(alice.pk)
    assert message["type"] == protocol.LAYER_PUSH and message["seq"] == 1
    assert created_signals == [created]


def test_one_delivery_batch_for_many_recipients(
    db: None, django_capture_on_commit_callbacks: Any, sent: list[Any], created_signals: list[Any]
) -> None:
    users = make_users(5)
    with django_capture_on_commit_callbacks(execute=True):
        created = notify(users, "x")
    assert len(sent) == 1
    assert sorted(group for group, _ in sent[0]) == sorted(protocol.user_group(u.pk) for u in users)
    assert created_signals == [created]


def test_rolled_back_notify_delivers_nothing(
    alice: Any, django_capture_on_commit_callbacks: Any, sent: list[Any], created_signals: list[Any]
) -> None:
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(ZeroDivisionError),
        transaction.atomic(),
    ):
        notify(alice, "x")
        1 / 0  # noqa: B018
    assert callbacks == [] and sent == [] and created_signals == []
    assert not Notification.objects.exists()
    assert unread_and_seq(alice) == (0, 0)


def unread_and_seq(user: Any) -> tuple[int, int]:
    return api.inbox(user)


@pytest.mark.django_db(transaction=True)
def test_delivery_waits_for_the_outer_transaction_to_commit(
    alice: Any, sent: list[Any], created_signals: list[Any]
) -> None:
    with transaction.atomic():
        created = notify(alice, "x")
        with transaction.atomic():  # a nested atomic block (savepoint) is no commit
            notify(alice, "y")
        assert sent == [] and created_signals == []
    assert [message["seq"] for batch in sent for _, message in batch] == [1, 2]
    assert created_signals[0] == created and len(created_signals) == 2


@pytest.mark.django_db(transaction=True)
def test_rollback_of_the_callers_transaction_discards_everything(
    alice: Any, sent: list[Any], created_signals: list[Any]
) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        notify(alice, "x")
        raise RuntimeError("the caller fails")
    assert sent == [] and created_signals == []
    assert not Notification.objects.exists()
    assert notify(alice, "after")[0].seq == 1  # the seq was rolled back too
    assert len(sent) == 1


@pytest.mark.django_db(transaction=True)
def test_autocommit_notify_delivers_at_once(
    alice: Any, sent: list[Any], created_signals: list[Any]
) -> None:
    created = notify(alice, "x")
    assert len(sent) == 1 and created_signals == [created]


@pytest.mark.django_db(transaction=True)
def test_a_failing_signal_receiver_does_not_raise_into_the_caller(
    alice: Any, sent: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("receiver bug")

    signals.notification_created.connect(broken, dispatch_uid="test_api.broken")
    try:
        with caplog.at_level(logging.ERROR):
            created = notify(alice, "x")
    finally:
        signals.notification_created.disconnect(dispatch_uid="test_api.broken")
    assert len(created) == 1 and Notification.objects.count() == 1
    assert "receiver bug" in caplog.text


# A failing channel layer never raises into the caller


@pytest.fixture
def dead_redis(settings: Any) -> Iterator[None]:
    settings.CHANNEL_LAYERS = {
        "default": redis_channel_layer(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=1)
    }
    yield
    channel_layers.backends.clear()


@pytest.mark.django_db(transaction=True)
def test_redis_down_does_not_raise_and_keeps_the_rows(
    alice: Any, bob: Any, dead_redis: None, caplog: pytest.LogCaptureFixture, created_signals: Any
) -> None:
    with caplog.at_level(logging.WARNING, logger="notifications"):
        created = notify([alice, bob], "x", title="saved anyway")
        assert delivery.flush()  # the push is published (here: fails) after notify() returns
    assert len(created) == 2
    assert Notification.objects.filter(title="saved anyway").count() == 2
    assert api.unread_count(alice) == 1 and api.unread_count(bob) == 1
    failures = [r for r in caplog.records if r.name.startswith("notifications.delivery")]
    assert failures and failures[0].levelno >= logging.WARNING
    assert "Live delivery failed" in failures[0].getMessage()
    assert created_signals == [created]  # the signal still goes out


def test_redis_down_inside_a_transaction(
    alice: Any,
    dead_redis: None,
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="notifications"):
        with django_capture_on_commit_callbacks(execute=True):
            notify(alice, "x")
        api.mark_read(alice, list(Notification.objects.values_list("pk", flat=True)))
        assert delivery.flush()
    assert api.unread_count(alice) == 0
    assert "Live delivery failed" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_hanging_redis_costs_at_most_the_publish_timeout(
    alice: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import socket
    import time

    # Accepts TCP connections (the kernel does) and never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        settings.CHANNEL_LAYERS = {"default": redis_channel_layer(f"redis://127.0.0.1:{port}/0")}
        settings.NOTIFICATIONS = {"PUBLISH_TIMEOUT": 0.3}
        try:
            with caplog.at_level(logging.WARNING, logger="notifications"):
                start = time.monotonic()
                created = notify(alice, "x")
                assert delivery.flush()
                elapsed = time.monotonic() - start
        finally:
            channel_layers.backends.clear()
    assert len(created) == 1 and Notification.objects.count() == 1
    assert elapsed < 3
    assert "Live delivery failed" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_broken_channel_layer_backend_does_not_raise(
    alice: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "no.such.Layer"}}
    try:
        with caplog.at_level(logging.WARNING, logger="notifications"):
            assert len(notify(alice, "x")) == 1
            assert delivery.flush()
    finally:
        channel_layers.backends.clear()
    assert Notification.objects.count() == 1
    assert any(r.name == "notifications.delivery" for r in caplog.records)


@pytest.mark.django_db(transaction=True)
def test_missing_channel_layer_does_not_raise(
    alice: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.NOTIFICATIONS = {"CHANNEL_LAYER": "absent"}
    with caplog.at_level(logging.WARNING, logger="notifications"):
        assert len(notify(alice, "x")) == 1
        assert delivery.flush()
    assert "live delivery is off" in caplog.text


# Real delivery through the layer, and async code


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_committed_notification_reaches_the_users_group(
    alice: Any, any_layer: str, settings: Any
) -> None:
    # Through the channel layer's group (the Redis fan-out's own tests are in test_delivery.py).
    settings.NOTIFICATIONS = {"TRANSPORT": "layer"}
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(protocol.user_group(alice.pk), channel)

    def create() -> list[Notification]:
        with transaction.atomic():
            return notify(alice, "x", title="live")

    [n] = await sync_to_async(create)()
    message = await layer.receive(channel)
    assert message["type"] == protocol.LAYER_PUSH and message["seq"] == n.seq
    assert protocol.notification_frame(n) == message["frame"]
    await layer.group_discard(protocol.user_group(alice.pk), channel)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_anotify(alice: Any, bob: Any) -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(protocol.user_group(bob.pk), channel)
    created = await anotify([alice, bob], "x", actor=alice, title="from async code")
    assert {n.recipient_id for n in created} == {alice.pk, bob.pk}
    count = await Notification.objects.filter(title="from async code").acount()
    assert count == 2
    message = await layer.receive(channel)
    assert '"from async code"' in message["frame"]
    assert await api.aunread_count(bob) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_anotify_raises_the_same_errors(alice: Any) -> None:
    with pytest.raises(InvalidNotification):
        await anotify(alice, "x", url="//evil.example")
    with pytest.raises(InvalidRecipients):
        await anotify("alice", "x")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_async_read_state_functions(alice: Any) -> None:
    created = await anotify(alice, "x")
    created += await anotify(alice, "y")
    created += await anotify(alice, "z")
    assert await api.amark_read(alice, [created[0].pk]) == [created[0].pk]
    assert await api.aunread_count(alice) == 2
    assert await api.adelete(alice, [created[1].pk]) == [created[1].pk]
    assert await api.amark_all_read(alice) == [created[2].pk]
    assert await api.aunread_count(alice) == 0


def test_public_names_are_exported() -> None:
    import notifications

    for name in notifications.__all__:
        assert getattr(notifications, name) is not None
    assert notifications.notify is api.notify
    with pytest.raises(AttributeError):
        notifications.nope  # noqa: B018


# Read-state signals: after commit, with the user and the ids that changed


@pytest.fixture
def state_signals() -> Iterator[list[tuple[str, Any, list[int]]]]:
    received: list[tuple[str, Any, list[int]]] = []
    connected = {
        "read": signals.notifications_read,
        "unread": signals.notifications_unread,
        "deleted": signals.notifications_deleted,
    }
    for name, signal in connected.items():

        def receiver(sender: Any, user: Any, ids: list[int], _name: str = name, **kw: Any) -> None:
            received.append((_name, user.pk, list(ids)))

        signal.connect(receiver, dispatch_uid=f"test_api.{name}", weak=False)
    yield received
    for name, signal in connected.items():
        signal.disconnect(dispatch_uid=f"test_api.{name}")


def test_read_state_signals_after_commit(
    alice: Any,
    django_capture_on_commit_callbacks: Any,
    sent: list[Any],
    state_signals: list[Any],
) -> None:
    ids = [notify(alice, str(i))[0].pk for i in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        api.mark_read(alice, ids[:2])
        api.mark_unread(alice, ids[:1])
        api.delete(alice, ids[2:])
        api.mark_all_read(alice)
        assert state_signals == [] and sent == []
    assert state_signals == [
        ("read", alice.pk, ids[:2]),
        ("unread", alice.pk, ids[:1]),
        ("deleted", alice.pk, ids[2:]),
        ("read", alice.pk, ids[:1]),
    ]
    frames = [json.loads(message["frame"]) for batch in sent for _, message in batch]
    assert frames == [
        {"type": "read", "ids": ids[:2], "unread_count": 1, "unseen_count": 1},
        {"type": "unread", "ids": ids[:1], "unread_count": 2, "unseen_count": 1},
        {"type": "deleted", "ids": ids[2:], "unread_count": 1, "unseen_count": 0},
        {"type": "read", "ids": ids[:1], "unread_count": 0, "unseen_count": 0},
    ]


def test_no_change_sends_nothing(
    alice: Any,
    django_capture_on_commit_callbacks: Any,
    sent: list[Any],
    state_signals: list[Any],
) -> None:
    [n] = notify(alice, "x")
    with django_capture_on_commit_callbacks(execute=True):
        api.mark_unread(alice, [n.pk])  # already unread
        api.mark_all_read(alice)
        api.mark_all_read(alice)  # nothing left
    assert [kind for kind, _, _ in state_signals] == ["read"]
    assert len(sent) == 1


def test_rolled_back_read_state_change_sends_nothing(
    alice: Any,
    django_capture_on_commit_callbacks: Any,
    sent: list[Any],
    state_signals: list[Any],
) -> None:
    [n] = notify(alice, "x")
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        api.mark_read(alice, [n.pk])
        raise RuntimeError
    assert state_signals == [] and sent == []
    assert api.unread_count(alice) == 1


def test_notify_returns_the_notifications_in_the_order_of_the_recipients(db: None) -> None:
    users = make_users(30)
    shuffled = users[::-1][::2] + users[::-1][1::2]
    created = notify(shuffled, "x")
    assert [n.recipient_id for n in created] == [u.pk for u in shuffled]
    assert all(n.pk is not None and n.seq == 1 for n in created)
