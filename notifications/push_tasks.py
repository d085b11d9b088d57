"""The Web Push tasks (Django's tasks framework): sending runs wherever the project's TASKS backend runs
tasks, never in ``notify()``'s path. Queued by ``notifications.backends.push.PushBackend`` and by the
admin's "Send a test push"."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from notifications.compat_tasks import task
from notifications.conf import app_settings
from notifications.models import Notification, PushSubscription
from notifications.webpush import encode_payload, payload, push

logger = logging.getLogger("notifications.push")


@task()
def send_push(notification_id: int) -> None:
    """Push one notification to every subscription of its recipient (unless read meanwhile)."""
    config = app_settings.WEB_PUSH
    if config is None:
        return
    n = Notification.objects.filter(pk=notification_id).first()
    if n is None or n.read_at is not None:
        logger.info("Push of notification %s skipped: deleted or read meanwhile.", notification_id)
        return
    data = encode_payload(payload(n))
    for subscription in PushSubscription.objects.filter(user_id=n.recipient_id):
        push(subscription, data, config)


@task()
def send_test_push(subscription_id: int) -> None:
    """Push a test message to one subscription (the admin's "Send a test push")."""
    config = app_settings.WEB_PUSH
    subscription = PushSubscription.objects.filter(pk=subscription_id).first()
    if config is None or subscription is None:
        return
    # A task has no request: the site's language, as digest emails (digests.py).
    with translation.override(settings.LANGUAGE_CODE):
        title, body = _("Test notification"), _("Web Push reaches this browser.")
    test = {
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
    push(subscription, encode_payload(test), config)
