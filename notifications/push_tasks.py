"""The Web Push tasks (Django's tasks framework): sending runs wherever the project's TASKS backend runs
tasks, never in ``notify()``'s path. Queued by ``notifications.backends.push.PushBackend`` and by the
admin's "Send a test push".

No task sleeps between attempts: each subscription's retry is a task of its own
(``push_to_subscription``), queued with ``run_after`` when the backend can defer tasks
(``supports_defer``), so a failing push service holds no worker and delays no other browser.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from notifications.compat_tasks import task
from notifications.conf import WebPushSettings, app_settings
from notifications.models import Notification, PushSubscription
from notifications.webpush import encode_payload, payload, push

logger = logging.getLogger("notifications.push")


@task()
def send_push(notification_id: int) -> None:
    """Push one notification to every subscription of its recipient (unless read meanwhile)."""
    config = app_settings.WEB_PUSH
    if config is None:
        return
    n = _unread(notification_id)
    if n is None:
        return
    subscriptions = list(PushSubscription.objects.filter(user_id=n.recipient_id))
    # A task per subscription, so that a push service that hangs delays no other browser of the user;
    # this one pushes to the first itself: a user with one browser (most) costs one task, as before.
    for subscription in subscriptions[1:]:
        push_to_subscription.enqueue(subscription.pk, notification_id, 1)
    if subscriptions:
        _attempt(subscriptions[0], notification_id, encode_payload(payload(n)), config, 1)


@task()
def send_test_push(subscription_id: int) -> None:
    """Push a test message to one subscription (the admin's "Send a test push")."""
    push_to_subscription.call(subscription_id, None, 1)


@task()
def push_to_subscription(subscription_id: int, notification_id: int | None, attempt: int) -> None:
    """Attempt number ``attempt`` to push a notification (None: the test message) to one subscription.

    Checks again what may have changed since the previous attempt was queued: a notification read or
    deleted, a subscription gone or now another user's (a shared computer), Web Push turned off.
    """
    config = app_settings.WEB_PUSH
    if config is None:
        return
    subscription = PushSubscription.objects.filter(pk=subscription_id).first()
    if notification_id is None:
        if subscription is not None:
            _attempt(subscription, None, _test_message(config), config, attempt)
        return
    n = _unread(notification_id)
    if n is None:
        return
    if subscription is None or subscription.user_id != n.recipient_id:
        logger.info(
            "Push of notification %s to subscription %s skipped: the subscription is gone or "
            "now another user's.",
            notification_id,
            subscription_id,
        )
        return
    _attempt(subscription, notification_id, encode_payload(payload(n)), config, attempt)


def _attempt(
    subscription: PushSubscription,
    notification_id: int | None,
    data: str,
    config: WebPushSettings,
    attempt: int,
) -> None:
    # ImmediateBackend (the default without TASKS) runs tasks inside the request that called notify(): a retry
    # there would have to sleep in that request, up to a minute when a service sends Retry-After. It
    # gets one attempt instead, and the failure says why it was not retried (docs/push.md).
    can_defer = push_to_subscription.get_backend().supports_defer
    outcome = push(subscription, data, config, attempt, can_retry=can_defer)
    if outcome.result == "retry":
        later = push_to_subscription.using(
            run_after=timezone.now() + timedelta(seconds=outcome.delay)
        )
        later.enqueue(subscription.pk, notification_id, attempt + 1)


def _unread(notification_id: int) -> Notification | None:
    n = Notification.objects.filter(pk=notification_id).first()
    if n is None or n.read_at is not None:
        logger.info("Push of notification %s skipped: deleted or read meanwhile.", notification_id)
        return None
    return n


def _test_message(config: WebPushSettings) -> str:
    # A task has no request: the site's language, as digest emails (digests.py).
    with translation.override(settings.LANGUAGE_CODE):
        title, body = _("Test notification"), _("Web Push reaches this browser.")
    return encode_payload(
        {
            "id": 0,
            "seq": 0,
            "title": title,
            "body": body,
            "url": "",
            "level": "info",
            "category": "",
            "tag": "notifications-test",
            "icon": config.ICON,
        }
    )
