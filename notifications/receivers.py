"""Receivers the app connects in AppConfig.ready()."""

from __future__ import annotations

from typing import Any

from notifications import delivery


def close_sockets_on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # AuthMiddlewareStack reads the user once, at connect: without this, a socket opened before
    # logout would go on receiving the user's notifications.
    if user is not None and user.pk is not None:
        delivery.send(delivery.logout_messages(user.pk))
