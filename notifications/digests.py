"""Email digests: one email per user listing their unread notifications that waited long enough.

The email backend (backends/email.py) queues a ``PendingEmail`` row per notification whose recipient
wants email for its category. ``send_digests()`` (the ``send_notification_digests`` command, or the
task in tasks.py) takes the rows older than ``EMAIL_DIGEST_DELAY``, claims them with its own token in
one UPDATE, checks read state and preferences again, sends one email per user and deletes the rows.
Two runs at once never claim the same row: each notification is emailed at most once. A run that
cannot reach the mail server releases its claims, so the next run sends them.

Templates a project can override: ``notifications/email/digest_subject.txt``, ``digest.txt`` and
``digest.html``. Each email has a one-click unsubscribe link (a signed token, RFC 8058 headers). Emails
are written in the site's ``LANGUAGE_CODE``: a user model has no language of its own, and a digest run
(cron, a task) has no request to take one from.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import router
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from notifications import preferences
from notifications.conf import app_settings
from notifications.constants import EMAIL
from notifications.models import Notification, PendingEmail
from notifications.templatetags.notifications import safe_href

__all__ = ["Digest", "DigestReport", "send_digests", "unsubscribe_token", "user_pk_from_token"]

logger = logging.getLogger("notifications.digests")

_UNSUBSCRIBE_SALT = "notifications.unsubscribe"


def unsubscribe_token(user: Any) -> str:
    """A signed token naming the user, for the unsubscribe link (no expiry: old emails keep working)."""
    return signing.dumps(str(user.pk), salt=_UNSUBSCRIBE_SALT)


def user_pk_from_token(token: str) -> str:
    """The user pk a token names; ``signing.BadSignature`` if it was not signed by this site."""
    value = signing.loads(token, salt=_UNSUBSCRIBE_SALT)
    if not isinstance(value, str):
        raise signing.BadSignature("Not an unsubscribe token.")
    return value


@dataclass
class Digest:
    """One email: its recipient, address and notifications (oldest first)."""

    user: Any
    address: str
    notifications: list[Notification]


@dataclass
class DigestReport:
    """What one run did (or, with ``dry_run``, would do)."""

    dry_run: bool
    sent: list[Digest] = field(default_factory=list)
    failed: list[Digest] = field(default_factory=list)
    #: Users with due notifications but no email address (or inactive): nothing sent to them.
    skipped: list[Any] = field(default_factory=list)


class MailServerUnavailable(ConnectionError):
    """The email backend could not open a connection; the run's claims were released."""


def send_digests(*, dry_run: bool = False, now: datetime | None = None) -> DigestReport:
    """Email every user whose due notifications wait; return what was done."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=app_settings.EMAIL_DIGEST_DELAY)
    using = router.db_for_write(PendingEmail)
    pending = PendingEmail.objects.using(using)
    due = pending.filter(claim="", created_at__lte=cutoff)
    report = DigestReport(dry_run=dry_run)
    after = None
    while True:
        page = due if after is None else due.filter(recipient_id__gt=after)
        user_pks = list(
            page.order_by("recipient_id")
            .values_list("recipient_id", flat=True)
            .distinct()[: app_settings.BATCH_SIZE]
        )
        if not user_pks:
            return report
        after = user_pks[-1]
        if dry_run:
            _run_batch(list(due.filter(recipient_id__in=user_pks)), report, using)
            continue
        token = uuid.uuid4().hex
        # Filters on this table's own columns only: a row that another run claims while this UPDATE
        # waits for its lock no longer matches `claim = ''` when PostgreSQL re-checks it.
        due.filter(recipient_id__in=user_pks).update(claim=token)
        mine = pending.filter(claim=token)
        try:
            _run_batch(list(mine), report, using)
        except MailServerUnavailable:
            mine.update(claim="")
            raise
        mine.delete()


def _run_batch(rows: list[PendingEmail], report: DigestReport, using: str) -> None:
    notifications = Notification.objects.using(using).filter(
        pk__in=[row.notification_id for row in rows], read_at__isnull=True
    )
    by_user: dict[Any, list[Notification]] = defaultdict(list)
    for n in notifications.order_by("recipient_id", "seq"):
        by_user[n.recipient_id].append(n)
    # Again at sending time: a user may have turned email off while the notifications waited.
    allowed = {
        category: preferences.wanted(by_user, category, EMAIL)
        for category in {n.category for group in by_user.values() for n in group}
    }
    users = get_user_model()._default_manager.using(using).in_bulk(list(by_user))
    digests = []
    for user_pk, group in by_user.items():
        wanted = [n for n in group if user_pk in allowed[n.category]]
        user = users.get(user_pk)
        if not wanted or user is None:
            continue
        address = getattr(user, user.get_email_field_name(), "") or ""
        if not address or not user.is_active:
            report.skipped.append(user)
            continue
        digests.append(Digest(user, address, wanted))
    if report.dry_run:
        report.sent += digests
    elif digests:
        _send(digests, report)


def _connection() -> BaseEmailBackend:
    """The default email backend: ``mailers.default`` from Django 6.1 (get_connection() is deprecated)."""
    try:
        from django.core.mail import mailers  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return get_connection()
    return mailers.default  # type: ignore[no-any-return,unused-ignore]


def _send(digests: list[Digest], report: DigestReport) -> None:
    connection = _connection()
    try:
        connection.open()
    except Exception as exc:
        raise MailServerUnavailable(f"Cannot reach the mail server: {exc}") from exc
    try:
        for digest in digests:
            try:
                connection.send_messages([email_message(digest)])
            except Exception:
                # At most once: the server may have taken it before failing, so it is not retried.
                logger.exception("Digest email to user %s failed.", digest.user.pk)
                report.failed.append(digest)
            else:
                report.sent.append(digest)
    finally:
        connection.close()


def _absolute(path_or_url: str) -> str:
    href = safe_href(path_or_url)
    base = app_settings.EMAIL_BASE_URL
    if href.startswith("/") and base:
        return base + href
    return href


def email_message(digest: Digest) -> EmailMultiAlternatives:
    """The digest email: text and HTML from the templates, with the List-Unsubscribe headers."""
    # Not the language of whatever request or command runs the digests: the site's, for every user.
    with translation.override(settings.LANGUAGE_CODE):
        return _email_message(digest)


def _email_message(digest: Digest) -> EmailMultiAlternatives:
    unsubscribe = _absolute(
        reverse("notifications:unsubscribe", args=[unsubscribe_token(digest.user)])
    )
    context = {
        "user": digest.user,
        "count": len(digest.notifications),
        "notifications": [(n, _absolute(n.url)) for n in digest.notifications],
        "list_url": _absolute(reverse("notifications:list")),
        "preferences_url": _absolute(reverse("notifications:preferences")),
        "unsubscribe_url": unsubscribe,
    }
    subject = " ".join(render_to_string("notifications/email/digest_subject.txt", context).split())
    headers = {}
    if unsubscribe.startswith(("https://", "http://")):
        # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" to this URL, no login, no cookie.
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message = EmailMultiAlternatives(
        subject,
        render_to_string("notifications/email/digest.txt", context),
        to=[digest.address],
        headers=headers,
    )
    message.attach_alternative(
        render_to_string("notifications/email/digest.html", context), "text/html"
    )
    return message
