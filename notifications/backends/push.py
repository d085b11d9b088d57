"""Web Push (docs/push.md): a notification whose recipient has no socket open reaches their browsers.

``PushBackend.deliver()`` runs after commit and only decides who gets a push (subscribed, no socket open
in any process, wants the category on the "push" channel). Who is subscribed comes with the
notifications from ``notify()``'s own INSERT (``Notification.recipient_has_push``), so a notification to
recipients without a subscription costs no query here; each push is a ``send_push`` task of Django's
tasks framework (notifications.push_tasks), so a slow or hanging push service never delays ``notify()``
or live delivery.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from notifications import preferences, presence
from notifications.backends.base import DeliveryBackend
from notifications.conf import app_settings
from notifications.models import Notification, PushSubscription
from notifications.push_tasks import send_push

CHANNEL = "push"


class PushBackend(DeliveryBackend):
    """Queues a push for each notification whose recipient is subscribed, offline, and wants it."""

    name = CHANNEL

    def deliver(self, notifications: Sequence[Notification]) -> None:
        if app_settings.WEB_PUSH is None:
            return
        subscribed = _subscribed(notifications)
        if not subscribed:
            return
        offline = subscribed - presence.online(subscribed)
        by_category: dict[str, set[Any]] = {}
        for n in notifications:
            if n.recipient_id in offline:
                by_category.setdefault(n.category, set()).add(n.recipient_id)
        wanted = {
            category: preferences.wanted(users, category, CHANNEL)
            for category, users in by_category.items()
        }
        for n in notifications:
            if n.recipient_id in wanted.get(n.category, ()):
                send_push.enqueue(n.pk)


def _subscribed(notifications: Sequence[Notification]) -> set[Any]:
    """The recipients who have a subscription: as notify() read them in its INSERT, without a query
    (most recipients of most sites have none), else asked of the database."""
    if all(n.recipient_has_push is not None for n in notifications):
        return {n.recipient_id for n in notifications if n.recipient_has_push}
    recipients = {n.recipient_id for n in notifications}
    return set(
        PushSubscription.objects.filter(user_id__in=recipients).values_list("user_id", flat=True)
    )
