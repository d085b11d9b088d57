"""The delivery seam: NOTIFICATIONS["BACKENDS"] lists the channels; each runs after commit, isolated."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import Error, Warning
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from notifications import backends, checks, delivery, notify, preferences
from notifications.backends.base import DeliveryBackend
from notifications.backends.email import EmailBackend
from notifications.backends.live import LiveBackend
from notifications.backends.push import PushBackend
from notifications.conf import app_settings
from notifications.exceptions import NotificationsImproperlyConfigured
from notifications.models import Notification, PendingEmail

User = get_user_model()

delivered: list[tuple[str, list[int]]] = []


class Recording(DeliveryBackend):
    name = "recording"

    def deliver(self, notifications: Sequence[Notification]) -> None:
        delivered.append((self.name, [n.pk for n in notifications]))


class Broken(DeliveryBackend):
    name = "broken"

    def deliver(self, notifications: Sequence[Notification]) -> None:
        raise RuntimeError("the SMS gateway is down")


class Nameless(DeliveryBackend):
    def deliver(self, notifications: Sequence[Notification]) -> None:
        pass


HERE = "tests.test_backends"


@pytest.fixture(autouse=True)
def _empty() -> None:
    delivered.clear()


def test_default_backends_are_live_push_then_email(settings: Any) -> None:
    settings.NOTIFICATIONS = {}
    assert [type(b) for b in backends.get_backends()] == [LiveBackend, PushBackend, EmailBackend]
    assert [b.name for b in backends.get_backends()] == ["in_app", "push", "email"]


def test_backends_are_built_once_and_rebuilt_when_the_setting_changes(settings: Any) -> None:
    settings.NOTIFICATIONS = {"BACKENDS": [f"{HERE}.Recording"]}
    first = backends.get_backends()
    assert backends.get_backends()[0] is first[0]
    settings.NOTIFICATIONS = {"BACKENDS": [f"{HERE}.Recording"], "PAGE_SIZE": 3}
    assert backends.get_backends()[0] is not first[0]


def test_a_backend_of_your_own_runs_after_commit(
    alice: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.NOTIFICATIONS = {"BACKENDS": [f"{HERE}.Recording"]}
    with django_capture_on_commit_callbacks(execute=True):
        created = notify(alice, "x")
        assert delivered == []
    assert delivered == [("recording", [created[0].pk])]


def test_nothing_is_delivered_after_a_rollback(
    alice: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.NOTIFICATIONS = {"BACKENDS": [f"{HERE}.Recording"]}
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(ZeroDivisionError),
        transaction.atomic(),
    ):
        notify(alice, "x")
        1 / 0  # noqa: B018
    assert callbacks == []
    assert delivered == []


def test_the_email_queue_is_written_in_the_notifications_transaction(
    alice: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # Queued with the rows (no separate transaction after commit) and rolled back with them.
    preferences.unsubscribe_email(bob)
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        [for_alice, _] = notify([alice, bob], "x")
        assert list(PendingEmail.objects.values_list("notification_id", flat=True)) == [
            for_alice.pk
        ]
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(ZeroDivisionError),
        transaction.atomic(),
    ):
        notify(alice, "y")
        1 / 0  # noqa: B018
    assert PendingEmail.objects.count() == 1


def test_a_failing_backend_is_logged_and_the_others_still_run(
    alice: Any,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    live: list[delivery.Message] = []
    monkeypatch.setattr(delivery, "send", lambda messages: live.extend(messages))
    settings.NOTIFICATIONS = {
        "BACKENDS": [
            f"{HERE}.Broken",
            "notifications.backends.live.LiveBackend",
            f"{HERE}.Recording",
        ]
    }
    with django_capture_on_commit_callbacks(execute=True):
        created = notify(alice, "x")  # does not raise
    assert len(live) == 1
    assert delivered == [("recording", [created[0].pk])]
    assert "Delivery backend 'broken' failed" in caplog.text
    assert "the SMS gateway is down" in caplog.text


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("tests.test_backends.Missing", "cannot import"),
        ("no_such_module.Backend", "cannot import"),
        ("tests.test_backends.HERE", "not a DeliveryBackend"),
        ("tests.test_backends.Nameless", "no `name`"),
    ],
)
def test_a_broken_backend_path_is_logged_not_raised(
    alice: Any,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    path: str,
    message: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.NOTIFICATIONS = {"BACKENDS": [path]}
    with pytest.raises(NotificationsImproperlyConfigured, match=message):
        backends.get_backends()
    with django_capture_on_commit_callbacks(execute=True):
        assert len(notify(alice, "x")) == 1  # stored: clients get it from the database
    assert "NOTIFICATIONS['BACKENDS'] is broken" in caplog.text


def test_the_base_backend_must_be_subclassed(alice: Any) -> None:
    with pytest.raises(NotImplementedError):
        DeliveryBackend().deliver([])


def test_nothing_to_deliver_runs_no_backend(settings: Any) -> None:
    settings.NOTIFICATIONS = {"BACKENDS": [f"{HERE}.Recording"]}
    backends.deliver([])
    assert delivered == []


# Settings and checks: E004 (bad value), E005 (a backend that cannot be loaded), W007 (email links)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("notifications.backends.live.LiveBackend", "a list of dotted paths"),
        (["LiveBackend"], "'LiveBackend' is not one"),
        ([3], "3 is not one"),
    ],
)
def test_backends_must_be_a_list_of_dotted_paths(settings: Any, value: Any, message: str) -> None:
    settings.NOTIFICATIONS = {"BACKENDS": value}
    [problem] = checks.check_settings()
    assert problem.id == "notifications.E004" and message in problem.msg
    assert checks.check_backends() == []  # reported once, by check_settings


def test_e005_a_backend_that_cannot_be_loaded(settings: Any) -> None:
    settings.NOTIFICATIONS = {
        "BACKENDS": [f"{HERE}.Missing", f"{HERE}.Recording", f"{HERE}.Nameless"],
        "EMAIL_BASE_URL": "https://example.com",
    }
    messages = checks.check_backends()
    assert [m.id for m in messages] == ["notifications.E005", "notifications.E005"]
    assert "Missing" in messages[0].msg and "Nameless" in messages[1].msg
    assert all(isinstance(m, Error) and m.hint for m in messages)


def test_w007_email_without_a_base_url(settings: Any) -> None:
    settings.NOTIFICATIONS = {}
    [message] = checks.check_backends()
    assert message.id == "notifications.W007" and isinstance(message, Warning)
    settings.NOTIFICATIONS = {"EMAIL_BASE_URL": "https://example.com/"}
    assert checks.check_backends() == []
    assert app_settings.EMAIL_BASE_URL == "https://example.com"
    settings.NOTIFICATIONS = {"BACKENDS": ["notifications.backends.live.LiveBackend"]}
    assert checks.check_backends() == []


@pytest.mark.parametrize("value", ["example.com", "ftp://example.com", 3])
def test_email_base_url_must_be_an_http_url(settings: Any, value: Any) -> None:
    settings.NOTIFICATIONS = {"EMAIL_BASE_URL": value}
    [problem] = checks.check_settings()
    assert problem.id == "notifications.E004" and "EMAIL_BASE_URL" in problem.msg


def test_delivery_costs_a_constant_number_of_queries(
    db: None, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.NOTIFICATIONS = {"CATEGORIES": {"comments": {"label": "Comments"}}}
    users = User.objects.bulk_create([User(username=f"u{i}") for i in range(103)])
    preferences.update(users[5], {"categories": {"comments": {"email": False}}})

    def queries(recipients: list[Any]) -> int:
        with (
            CaptureQueriesContext(connection) as ctx,
            django_capture_on_commit_callbacks(execute=True),
        ):
            notify(recipients, "x", category="comments")
        return len(ctx.captured_queries)

    queries(users)  # every inbox row exists from here on
    assert queries(users[:3]) == queries(users[3:])
    assert PendingEmail.objects.count() == 2 * 103 - 2  # not users[5]'s
