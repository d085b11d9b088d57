"""Email digests: one email per user for unread notifications that waited EMAIL_DIGEST_DELAY, each
notification emailed at most once (also with two runs at once), preferences honoured, one-click
unsubscribe; the command, and the task."""

from __future__ import annotations

import threading
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.management import CommandError, call_command
from django.db import connections
from django.db.models import F
from django.test import Client

from notifications import digests, mark_read, notify, preferences
from notifications.digests import MailServerUnavailable, send_digests, unsubscribe_token
from notifications.models import Notification, PendingEmail
from tests.conftest import make_user

BASE = "https://example.com"
CATEGORIES = {
    "comments": {"label": "Comments", "email": True},
    "likes": {"label": "Likes", "email": False},
}


@pytest.fixture(autouse=True)
def email_settings(settings: Any) -> None:
    settings.NOTIFICATIONS = {"CATEGORIES": CATEGORIES, "EMAIL_BASE_URL": BASE}


def mail_server(monkeypatch: pytest.MonkeyPatch, backend: type[BaseEmailBackend]) -> None:
    """Make digests use this email backend (whatever Django's version configures it with)."""
    monkeypatch.setattr(digests, "_connection", backend)


@pytest.fixture
def carol(db: None) -> Any:
    return make_user("carol", email="carol@example.com")


@pytest.fixture
def dave(db: None) -> Any:
    return make_user("dave", email="dave@example.com")


@pytest.fixture
def send(django_capture_on_commit_callbacks: Any) -> Any:
    """notify(), committed: the email backend queues after commit."""

    def send(*args: Any, **kwargs: Any) -> list[Notification]:
        with django_capture_on_commit_callbacks(execute=True):
            return notify(*args, **kwargs)

    return send


def age(seconds: float, notifications: list[Notification] | None = None) -> None:
    """Make notifications (all by default) `seconds` older."""
    pks = None if notifications is None else [n.pk for n in notifications]
    shift = timedelta(seconds=seconds)
    ns, pending = Notification.objects.all(), PendingEmail.objects.all()
    if pks is not None:
        ns, pending = ns.filter(pk__in=pks), pending.filter(notification_id__in=pks)
    ns.update(created_at=F("created_at") - shift)
    pending.update(created_at=F("created_at") - shift)


def text_of(message: Any) -> tuple[str, str]:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return message.body, html


# What is sent, and when


def test_one_email_lists_the_due_unread_notifications_then_none_until_new_ones_age(
    carol: Any, send: Any
) -> None:
    first = send(carol, "commented", title="First", category="comments")
    second = send(carol, "commented", title="Second", category="comments")
    age(1801)
    fresh = send(carol, "commented", title="Fresh", category="comments")
    report = send_digests()
    [message] = mail.outbox
    assert message.to == ["carol@example.com"]
    assert message.subject == "2 unread notifications"
    body, html = text_of(message)
    assert "First" in body and "Second" in body and "Fresh" not in body
    assert "First" in html and "Fresh" not in html
    assert [n.pk for n in report.sent[0].notifications] == [first[0].pk, second[0].pk]

    assert send_digests().sent == [] and len(mail.outbox) == 1  # nothing new is due
    age(1801, fresh)
    send_digests()
    assert len(mail.outbox) == 2
    assert mail.outbox[1].subject == "1 unread notification"
    assert "Fresh" in mail.outbox[1].body and "First" not in mail.outbox[1].body


def test_the_delay_is_respected(carol: Any, send: Any, settings: Any) -> None:
    send(carol, "commented", category="comments")
    age(1799)
    assert send_digests().sent == []
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "EMAIL_DIGEST_DELAY": 60}
    assert len(send_digests().sent) == 1


def test_user_text_is_escaped_in_html_and_links_are_absolute(carol: Any, send: Any) -> None:
    send(
        carol,
        "commented",
        title="<script>alert(1)</script> & co",
        body="<img src=x onerror=alert(2)>",
        url="/posts/7/",
        category="comments",
    )
    age(1801)
    send_digests()
    body, html = text_of(mail.outbox[0])
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert 'href="https://example.com/posts/7/"' in html
    # The text part is plain text: as written, never HTML-escaped.
    assert "<script>alert(1)</script> & co" in body and "https://example.com/posts/7/" in body
    assert "https://example.com/notifications/preferences/" in body


def test_the_email_has_one_click_unsubscribe_headers(carol: Any, send: Any) -> None:
    send(carol, "commented", category="comments")
    age(1801)
    send_digests()
    message = mail.outbox[0]
    url = f"{BASE}/notifications/unsubscribe/{unsubscribe_token(carol)}/"
    assert message.extra_headers["List-Unsubscribe"] == f"<{url}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in message.body and url in text_of(message)[1]


def test_without_a_base_url_links_are_paths_and_there_is_no_header(
    carol: Any, send: Any, settings: Any
) -> None:
    settings.NOTIFICATIONS = {"CATEGORIES": CATEGORIES}
    send(carol, "commented", url="/posts/7/", category="comments")
    age(1801)
    send_digests()
    message = mail.outbox[0]
    assert "List-Unsubscribe" not in message.extra_headers
    assert "\n  /posts/7/\n" in message.body


def test_read_notifications_are_not_emailed(carol: Any, send: Any) -> None:
    read = send(carol, "commented", title="Read", category="comments")
    send(carol, "commented", title="Unread", category="comments")
    mark_read(carol, [read[0].pk])
    age(1801)
    send_digests()
    assert "Unread" in mail.outbox[0].body and "Read\n" not in mail.outbox[0].body
    mark_read(carol, [n.pk for n in Notification.objects.filter(recipient=carol)])
    send(carol, "commented", category="comments")
    Notification.objects.filter(recipient=carol).update(read_at=F("created_at"))
    age(1801)
    send_digests()
    assert len(mail.outbox) == 1


# Preferences


def test_a_category_whose_email_is_off_is_never_emailed(carol: Any, dave: Any, send: Any) -> None:
    preferences.update(dave, {"categories": {"likes": {"email": True}}})
    send([carol, dave], "liked", title="A like", category="likes")
    assert set(PendingEmail.objects.values_list("recipient_id", flat=True)) == {dave.pk}
    age(1801)
    send_digests()
    assert [m.to for m in mail.outbox] == [["dave@example.com"]]


def test_turning_email_off_while_waiting_stops_the_email(carol: Any, dave: Any, send: Any) -> None:
    send([carol, dave], "commented", category="comments")
    send(dave, "joined", title="Uncategorised")
    preferences.update(carol, {"categories": {"comments": {"email": False}}})
    preferences.update(dave, {"channels": {"email": False}})
    age(1801)
    report = send_digests()
    assert report.sent == [] and mail.outbox == []
    assert not PendingEmail.objects.exists()  # decided: never emailed later


def test_users_without_an_email_address_or_inactive_are_skipped(
    carol: Any, dave: Any, send: Any
) -> None:
    nomail = make_user("nomail")
    dave.is_active = False
    dave.save()
    send([carol, dave, nomail], "commented", category="comments")
    age(1801)
    report = send_digests()
    assert [m.to for m in mail.outbox] == [["carol@example.com"]]
    assert {u.username for u in report.skipped} == {"dave", "nomail"}
    assert send_digests().skipped == []  # skipped once, not on every run


# At most once


class _Unreachable(BaseEmailBackend):
    def open(self) -> bool:
        raise OSError("Connection refused")

    def send_messages(self, messages: Any) -> int:
        raise AssertionError("not opened")


class _FailsEach(LocmemBackend):
    def send_messages(self, messages: Any) -> int:
        raise OSError("550 mailbox unavailable")


def test_an_unreachable_mail_server_keeps_everything_for_the_next_run(
    carol: Any, send: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    send(carol, "commented", category="comments")
    age(1801)
    with monkeypatch.context() as patch:
        mail_server(patch, _Unreachable)
        with pytest.raises(MailServerUnavailable, match="Connection refused"):
            send_digests()
    assert PendingEmail.objects.get().claim == ""
    assert len(send_digests().sent) == 1


def test_a_failed_email_is_not_retried(
    carol: Any, send: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server may have taken it before failing: never risk sending it twice.
    send(carol, "commented", category="comments")
    age(1801)
    mail_server(monkeypatch, _FailsEach)
    report = send_digests()
    assert [d.user for d in report.failed] == [carol]
    assert not PendingEmail.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_never_email_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    users = [make_user(f"user{i}", email=f"user{i}@example.com") for i in range(3)]
    for user in users:
        notify(user, "commented", category="comments")
        notify(user, "commented again", category="comments")
    age(1801)
    # Both runs find the same due users, then both claim them at the same moment.
    both_ready = threading.Barrier(2, timeout=20)
    new_token = digests.uuid.uuid4

    def token_when_both_ready() -> Any:
        both_ready.wait()
        return new_token()

    monkeypatch.setattr(digests.uuid, "uuid4", token_when_both_ready)
    reports: list[digests.DigestReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(send_digests())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(len(r.sent) for r in reports) == [0, 3]
    assert sorted(m.to[0] for m in mail.outbox) == [u.email for u in users]
    assert all(m.subject == "2 unread notifications" for m in mail.outbox)
    assert not PendingEmail.objects.exists()


# Unsubscribe


def unsubscribe_url(user: Any) -> str:
    return f"/notifications/unsubscribe/{unsubscribe_token(user)}/"


def test_get_asks_and_changes_nothing(carol: Any) -> None:
    response = Client().get(unsubscribe_url(carol))
    assert response.status_code == 200
    assert b"Stop receiving notification emails?" in response.content
    assert preferences.as_dict(carol)["channels"]["email"] is True


def test_the_confirmation_form_unsubscribes_without_a_login(carol: Any, send: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(unsubscribe_url(carol))
    assert response.status_code == 200
    assert b"You are unsubscribed" in response.content
    assert preferences.as_dict(carol)["channels"]["email"] is False
    send(carol, "commented", category="comments")
    age(1801)
    assert send_digests().sent == [] and mail.outbox == []


def test_one_click_post_from_the_header(carol: Any, dave: Any, send: Any) -> None:
    send(carol, "commented", category="comments")
    age(1801)
    send_digests()
    header = mail.outbox[0].extra_headers["List-Unsubscribe"]
    path = header.strip("<>").removeprefix(BASE)
    # RFC 8058: a mail client posts this body, with no cookie and no CSRF token.
    response = Client(enforce_csrf_checks=True).post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert preferences.as_dict(carol)["channels"]["email"] is False
    assert preferences.as_dict(dave)["channels"]["email"] is True  # the token names carol only


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_token_is_a_400(carol: Any, dave: Any, method: str) -> None:
    token = unsubscribe_token(carol)
    value, signature = token.split(":", 1)
    forged = unsubscribe_token(dave).split(":", 1)[0] + ":" + signature
    for bad in (forged, token[:-2] + "xx", "nonsense", value):
        response = getattr(Client(), method)(f"/notifications/unsubscribe/{bad}/")
        assert response.status_code == 400, bad
        assert b"This unsubscribe link is not valid" in response.content
    assert preferences.as_dict(carol)["channels"]["email"] is True
    assert preferences.as_dict(dave)["channels"]["email"] is True


def test_a_token_of_a_deleted_user_is_a_400(carol: Any) -> None:
    url = unsubscribe_url(carol)
    carol.delete()
    assert Client().post(url).status_code == 400


# The command and the task


def test_the_command_prints_what_it_sent(carol: Any, dave: Any, send: Any) -> None:
    make_user("nomail")
    send(carol, "commented", category="comments")
    send(carol, "commented", category="comments")
    send(dave, "commented", category="comments")
    send(
        make_user("erin", email="erin@example.com", is_active=False),
        "commented",
        category="comments",
    )
    age(1801)
    out = StringIO()
    call_command("send_notification_digests", stdout=out)
    lines = out.getvalue().splitlines()
    assert "emailed carol <carol@example.com>: 2 notifications" in lines
    assert "emailed dave <dave@example.com>: 1 notification" in lines
    assert "skipped erin: no email address, or inactive" in lines
    assert lines[-1] == "Sent 2 digests listing 3 notifications; 0 failed; 1 user skipped."
    assert len(mail.outbox) == 2


def test_dry_run_sends_nothing_and_keeps_everything(carol: Any, send: Any) -> None:
    send(carol, "commented", category="comments")
    age(1801)
    out = StringIO()
    call_command("send_notification_digests", "--dry-run", stdout=out)
    assert "would email carol <carol@example.com>: 1 notification" in out.getvalue()
    assert "Would send 1 digest listing 1 notification;" in out.getvalue()
    assert mail.outbox == [] and PendingEmail.objects.get().claim == ""
    call_command("send_notification_digests", stdout=StringIO())
    assert len(mail.outbox) == 1


def test_the_command_fails_clearly_when_mail_cannot_go(
    carol: Any, send: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    send(carol, "commented", category="comments")
    age(1801)
    mail_server(monkeypatch, _Unreachable)
    with pytest.raises(CommandError, match=r"Cannot reach the mail server.*next run"):
        call_command("send_notification_digests", stdout=StringIO())
    mail_server(monkeypatch, _FailsEach)
    err = StringIO()
    with pytest.raises(CommandError, match="1 digest email"):
        call_command("send_notification_digests", stdout=StringIO(), stderr=err)
    assert "failed: carol <carol@example.com>" in err.getvalue()


def test_the_task_sends_the_digests(carol: Any, send: Any) -> None:
    from notifications.tasks import send_notification_digests

    send(carol, "commented", category="comments")
    age(1801)
    result = send_notification_digests.enqueue()
    assert result.return_value == {"sent": 1, "failed": 0, "skipped": 0, "notifications": 1}
    assert len(mail.outbox) == 1
