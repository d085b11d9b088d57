"""WebSocket routes: include them in your project's URLRouter, and the middleware that guards them.

The route signs its sockets in itself (``SessionAuthMiddleware``): ``AuthMiddlewareStack`` is not
needed around it, and without it a connect makes one trip to the database instead of two.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import parse_cookie
from django.urls import path

from notifications import logs, sessions
from notifications.consumers import NotificationConsumer

logger = logging.getLogger("notifications.consumers")


class SessionAuthMiddleware:
    """Put the handshake's session and a deferred user in the scope, without touching the database.

    The consumer signs the session in during the same trip to the database as its inbox read
    (``sessions.sign_in()``, Django's rules). A scope that already has a user (channels'
    ``AuthMiddlewareStack`` around the router, or a test's communicator) is passed on as it is.
    No ``Set-Cookie`` ever goes back on a WebSocket, so unlike channels' session middleware this one
    does not wrap ``send``.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if "user" not in scope:
            scope = dict(scope)
            if "session" not in scope:
                cookies = {}
                for name, value in scope.get("headers", ()):
                    if name == b"cookie":
                        cookies = parse_cookie(value.decode("latin-1"))
                        break
                store: Any = import_module(settings.SESSION_ENGINE).SessionStore
                scope["session"] = store(cookies.get(settings.SESSION_COOKIE_NAME))
            scope["user"] = sessions.DeferredUser()
        await self.app(scope, receive, send)


websocket_urlpatterns = [
    path(
        "ws/notifications/",
        SessionAuthMiddleware(NotificationConsumer.as_asgi()),  # type: ignore[arg-type]
        name="notifications-ws",
    ),
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
