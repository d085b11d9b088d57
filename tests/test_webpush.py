"""Web Push end to end through a local push service that decrypts what it gets (tests/push_service.py):
who gets a push, what it carries, gone subscriptions, and that a hanging service blocks nothing.
Retries: tests/test_push_retries.py."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core import signing
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications import api, notify, preferences
from notifications.api import notify_many
from notifications.backends.push import PushBackend
from notifications.conf import vapid_key_problem
from notifications.models import Notification, Presence, PushSubscription
from notifications.push_tasks import send_push
from notifications.webpush import MAX_PAYLOAD_BYTES, encode_payload, read_token_target
from tests.conftest import THREAD_TASKS, make_user
from tests.push_service import LocalPushService, local_push_service, unb64url

pytestmark = [pytest.mark.django_db(transaction=True)]


def vapid_pair() -> dict[str, str]:
    out = StringIO()
    call_command("notifications_vapid_keys", stdout=out)
    namespace: dict[str, Any] = {}
    exec(out.getvalue(), namespace)  # the command prints a Python snippet
    return dict(namespace["NOTIFICATIONS"]["WEB_PUSH"])


VAPID = vapid_pair()


@pytest.fixture
def web_push(settings: Any) -> dict[str, Any]:
    config = {**VAPID, "SUBJECT": "mailto:ops@example.com", "RETRY_DELAY": 0.01, "TTL": 600}
    settings.NOTIFICATIONS = {"WEB_PUSH": config}
    return config


@pytest.fixture
def service() -> Iterator[LocalPushService]:
    with local_push_service() as service:
        yield service


def subscribe(user: Any, service: LocalPushService, name: str) -> Any:
    browser = service.browser(name)
    PushSubscription.objects.create(
        user=user, user_agent="Mozilla/5.0 Chrome/130.0", **browser.fields()
    )
    return browser


def test_vapid_keys_command_prints_a_pair_the_settings_accept() -> None:
    assert vapid_key_problem(VAPID["VAPID_PUBLIC_KEY"], VAPID["VAPID_PRIVATE_KEY"]) == ""
    assert len(unb64url(VAPID["VAPID_PUBLIC_KEY"])) == 65
    assert vapid_pair() != VAPID  # a fresh pair each time


def test_an_offline_subscriber_gets_the_notification_encrypted_and_signed(
    web_push: dict[str, Any], service: LocalPushService
) -> None:
    alice = make_user("alice")
    subscribe(alice, service, "alice-chrome")
    (created,) = notify(
        alice,
        "commented",
        title="Bob commented",
        body="Nice post",
        url="/posts/1/",
        level="success",
        category="comments",
    )
    message = service.next_message()
    payload = message.payload
    assert {
        k: payload[k] for k in ("id", "seq", "title", "body", "url", "level", "category", "tag")
    } == {
        "id": created.pk,
        "seq": 1,
        "title": "Bob commented",
        "body": "Nice post",
        "url": "/posts/1/",
        "level": "success",
        "category": "comments",
        "tag": f"notification-{created.pk}",
    }
    assert payload["read_url"] == "/notifications/api/push-read/"
    assert read_token_target(payload["read_token"]) == (str(alice.pk), created.pk)
    # VAPID: signed by the configured key, for this push service, with the configured subject.
    assert message.vapid_key == web_push["VAPID_PUBLIC_KEY"]
    assert message.claims["aud"] == service.url
    assert message.claims["sub"] == "mailto:ops@example.com"
    assert message.headers["ttl"] == "600"
    subscription = PushSubscription.objects.get()
    assert (subscription.success_count, subscription.failure_count) == (1, 0)
    assert subscription.last_success_at is not None


def test_every_subscription_of_the_recipient_gets_it_and_no_one_else(
    web_push: dict[str, Any], service: LocalPushService
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    subscribe(alice, service, "alice-laptop")
    subscribe(alice, service, "alice-phone")
    subscribe(bob, service, "bob")
    notify(alice, "pinged")
    paths = sorted(service.next_message().path for _ in range(2))
    assert paths == ["/push/alice-laptop", "/push/alice-phone"]
    assert [p for p, _ in service.requests] == paths or sorted(
        p for p, _ in service.requests
    ) == paths


def test_a_user_with_a_socket_open_gets_no_push(
    web_push: dict[str, Any], service: LocalPushService
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    subscribe(alice, service, "alice")
    subscribe(bob, service, "bob")
    Presence.objects.create(process="other:1:x", user=alice, sockets=1, heartbeat=timezone.now())
    notify([alice, bob], "pinged")
    assert service.next_message().path == "/push/bob"
    assert [path for path, _ in service.requests] == ["/push/bob"]


def test_a_socket_in_a_process_that_stopped_beating_does_not_count(
    web_push: dict[str, Any], service: LocalPushService
) -> None:
    alice = make_user("alice")
    subscribe(alice, service, "alice")
    Presence.objects.create(
        process="dead:1:x", user=alice, sockets=1, heartbeat=timezone.now() - timedelta(hours=1)
    )
    notify(alice, "pinged")
    assert service.next_message().path == "/push/alice"


def test_muting_a_category_for_push_stops_its_pushes_only(
    web_push: dict[str, Any], service: LocalPushService, settings: Any
) -> None:
    settings.NOTIFICATIONS = {
        **settings.NOTIFICATIONS,
        "CATEGORIES": {"comments": {"label": "Comments", "push": True}},
    }
    alice, bob = make_user("alice"), make_user("bob")
    subscribe(alice, service, "alice")
    subscribe(bob, service, "bob")
    preferences.update(alice, {"categories": {"comments": {"push": False}}})
    notify([alice, bob], "commented", category="comments")
    assert service.next_message().path == "/push/bob"
    assert alice.notifications.count() == 1  # still in her inbox: only the push is muted
    notify(alice, "posted", category="posts")  # another category still pushes
    assert service.next_message().path == "/push/alice"
    assert [path for path, _ in service.requests] == ["/push/bob", "/push/alice"]


def test_push_is_off_without_keys(settings: Any, service: LocalPushService) -> None:
    settings.NOTIFICATIONS = {"WEB_PUSH": {"SUBJECT": "mailto:ops@example.com"}}
    alice = make_user("alice")
    subscribe(alice, service, "alice")
    notify(alice, "pinged")
    send_push.call(alice.notifications.get().pk)  # even called directly, nothing is sent
    assert service.requests == []


# Who has a subscription comes with the notifications, read by notify()'s own INSERT: a notification
# to recipients without one costs no query after commit (most recipients of most sites have none).

SUBSCRIPTIONS = PushSubscription._meta.db_table


def reads_subscriptions(sql: str) -> bool:
    """A query of its own on the subscriptions (not an EXISTS inside another statement)."""
    return sql.startswith(f'SELECT "{SUBSCRIPTIONS}".')


def _statements(recipients: Any) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:  # the push backend runs at commit, in notify()
        notify(recipients, "pinged")
    return [q["sql"] for q in ctx.captured_queries]


def test_a_notify_to_recipients_without_a_subscription_costs_no_push_query(
    web_push: dict[str, Any], service: LocalPushService, settings: Any
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    subscribe(bob, service, "bob")  # someone else's
    with_push = _statements(alice)
    # Only the EXISTS in the INSERT's RETURNING reads the subscriptions: no statement of its own.
    assert [q for q in with_push if reads_subscriptions(q)] == []
    assert [q for q in with_push if q.startswith(("INSERT", "WITH")) and SUBSCRIPTIONS in q]
    settings.NOTIFICATIONS = {}  # Web Push off: the same number of statements
    assert len(_statements(alice)) == len(with_push)
    assert service.requests == []


def test_a_subscriber_among_many_still_gets_the_push(
    web_push: dict[str, Any], service: LocalPushService
) -> None:
    users = [make_user(f"user{i}") for i in range(5)]
    subscribe(users[3], service, "user3")
    created = notify(users, "pinged")
    assert [n.recipient_has_push for n in created] == [False, False, False, True, False]
    assert service.next_message().path == "/push/user3"
    assert [path for path, _ in service.requests] == ["/push/user3"]


def test_the_subscription_is_read_when_the_notification_is_written(
    web_push: dict[str, Any], service: LocalPushService
) -> None:
    alice = make_user("alice")
    notify(alice, "before")
    subscribe(alice, service, "alice")  # after her inbox row exists: nothing cached to go stale
    notify(alice, "subscribed")
    assert service.next_message().payload["title"] == "subscribed"
    PushSubscription.objects.all().delete()
    assert [q for q in _statements(alice) if reads_subscriptions(q)] == []
    assert [path for path, _ in service.requests] == ["/push/alice"]


@pytest.mark.parametrize("path", ["grouped", "notify_many", "without upsert"])
def test_every_way_of_notifying_reads_the_subscriptions_in_its_own_statements(
    web_push: dict[str, Any], path: str, monkeypatch: Any, settings: Any
) -> None:
    from notifications.compat_tasks import default_task_backend

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    alice, bob = make_user("alice"), make_user("bob")
    PushSubscription.objects.create(
        user=bob, endpoint="https://push.example/bob", p256dh="k", auth="a"
    )
    if path == "without upsert":  # MySQL's path: create, lock, advance, insert, read back
        if connection.vendor == "postgresql":
            pytest.skip("PostgreSQL always takes the single statement")
        monkeypatch.setattr(
            type(connection.features), "supports_update_conflicts_with_target", False
        )
    created: list[Notification] = []
    with CaptureQueriesContext(connection) as ctx:
        if path == "grouped":
            created += notify([alice, bob], "commented", group_key="post-1")
            created += notify([alice, bob], "commented", group_key="post-1")  # collapses
        elif path == "notify_many":
            assert notify_many([alice, bob], "pinged", batch_size=1) == 2
        else:
            created += notify([alice, bob], "pinged")
    # The push backend asked nothing of its own: the flags came with the notifications.
    assert [q["sql"] for q in ctx.captured_queries if reads_subscriptions(q["sql"])] == []
    assert {(n.recipient_id, n.recipient_has_push) for n in created} <= {
        (alice.pk, False),
        (bob.pk, True),
    }
    queued = [Notification.objects.get(pk=r.args[0]) for r in default_task_backend.results]
    assert [n.recipient_id for n in queued] == [bob.pk] * (2 if path == "grouped" else 1)


def test_notifications_loaded_from_the_database_are_asked_about(
    web_push: dict[str, Any], service: LocalPushService
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    subscribe(bob, service, "bob")
    notify([alice, bob], "pinged")
    assert service.next_message().path == "/push/bob"
    loaded = list(Notification.objects.all())  # not from notify(): unknown, so one query
    assert {n.recipient_has_push for n in loaded} == {None}
    with CaptureQueriesContext(connection) as ctx:
        PushBackend().deliver(loaded)
    assert [q["sql"] for q in ctx.captured_queries if reads_subscriptions(q["sql"])]
    assert service.next_message().path == "/push/bob"
    assert [path for path, _ in service.requests] == ["/push/bob", "/push/bob"]


@pytest.mark.parametrize("status", [404, 410])
def test_a_gone_subscription_is_deleted(
    web_push: dict[str, Any], service: LocalPushService, status: int, caplog: Any
) -> None:
    alice = make_user("alice")
    browser = subscribe(alice, service, "alice")
    browser.statuses = [status]
    with caplog.at_level(logging.INFO, logger="notifications.push"):
        notify(alice, "pinged")
    assert service.requests == [("/push/alice", status)]
    assert not PushSubscription.objects.exists()
    assert f"is gone (HTTP {status}): deleted" in caplog.text


def test_a_notification_read_before_its_push_is_sent_is_not_pushed(
    web_push: dict[str, Any], service: LocalPushService, settings: Any
) -> None:
    alice = make_user("alice")
    subscribe(alice, service, "alice")
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    (created,) = notify(alice, "pinged")  # queued, not run
    api.mark_read(alice, [created.pk])
    send_push.call(created.pk)
    assert service.requests == []


def test_a_long_body_is_shortened_to_fit_a_push(
    web_push: dict[str, Any], service: LocalPushService
) -> None:
    alice = make_user("alice")
    subscribe(alice, service, "alice")
    notify(alice, "wrote", title="A long one", body="é" * 10_000)
    payload = service.next_message().payload
    assert payload["title"] == "A long one"
    assert payload["body"].endswith("…") and 100 < len(payload["body"]) < 10_000
    assert len(encode_payload(payload).encode()) <= MAX_PAYLOAD_BYTES


def test_a_hanging_push_service_delays_neither_notify_nor_live_delivery(
    web_push: dict[str, Any], service: LocalPushService, settings: Any
) -> None:
    """With a background task backend, notify() returns while the push is still hanging."""
    import threading

    settings.TASKS = THREAD_TASKS
    settings.NOTIFICATIONS = {"WEB_PUSH": {**web_push, "TIMEOUT": 30}}
    alice = make_user("alice")
    browser = subscribe(alice, service, "alice")
    browser.hang = threading.Event()
    browser.hang.set()
    notify(alice, "first")  # its push hangs in a task thread
    assert service.waiting.acquire(timeout=10)
    # The push is still held open by the service, and notify() has long returned: a second one too.
    (second,) = notify(alice, "second")
    assert second.seq == 2 and browser.hang.is_set()
    browser.hang.clear()
    titles = {service.next_message().payload["title"] for _ in range(2)}
    assert titles == {"first", "second"}


def test_the_read_token_cannot_be_forged() -> None:
    token = signing.dumps(["1", 2], salt="another-salt", compress=False)
    with pytest.raises(signing.BadSignature):
        read_token_target(token)


def test_payload_is_json(web_push: dict[str, Any]) -> None:
    data = {"id": 1, "title": "x", "body": "y"}
    assert json.loads(encode_payload(data)) == data
