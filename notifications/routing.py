"""WebSocket routes: include them in your project's URLRouter, and the middleware that guards them."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError
from django.urls import path

from notifications import logs
from notifications.consumers import NotificationConsumer

logger = logging.getLogger("notifications.consumers")

websocket_urlpatterns = [
    path("ws/notifications/", NotificationConsumer.as_asgi(), name="notifications-ws"),
]


class RefuseWhenUnavailable:
    """Refuse a WebSocket handshake (HTTP 403) when the database fails before it is accepted.

    ``AuthMiddlewareStack`` reads the session and the user before any consumer runs: with the
    database down it raises, and daphne logs a traceback per connection attempt. Wrap it::

        AllowedHostsOriginValidator(RefuseWhenUnavailable(AuthMiddlewareStack(URLRouter(...))))
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # `send` is passed on as is: the consumer finds daphne's write buffer through it.
        try:
            await self.app(scope, receive, send)
        except DatabaseError as exc:
            if scope["type"] != "websocket":
                raise
            logs.warn_once(
                logger,
                f"handshake:{type(exc).__name__}",
                "Refused a WebSocket handshake: the database failed (%s: %s).",
                type(exc).__name__,
                exc,
            )
            # Before accept (the auth middleware's read): HTTP 403. The consumer handles the
            # database failing after accept itself.
            await send({"type": "websocket.close"})
