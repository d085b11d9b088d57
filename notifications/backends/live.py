"""The live socket: every open tab of each recipient gets the notification frame."""

from __future__ import annotations

from collections.abc import Sequence

from notifications import delivery
from notifications.backends.base import DeliveryBackend
from notifications.constants import IN_APP
from notifications.models import Notification


class LiveBackend(DeliveryBackend):
    """Push each notification to its recipient's channel-layer group (notifications/delivery.py).

    Recipients who turned ``in_app`` off for a category got no row at all (``notify()`` leaves them
    out), so there is nothing to filter here.
    """

    name = IN_APP

    def deliver(self, notifications: Sequence[Notification]) -> None:
        delivery.send(delivery.notification_messages(notifications))
