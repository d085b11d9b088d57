"""ASGI entry point: HTTP through Django, WebSockets through Channels.

The reference stack: ProtocolTypeRouter -> AllowedHostsOriginValidator -> AuthMiddlewareStack -> URLRouter,
with RefuseWhenUnavailable around the auth middleware (a database outage refuses handshakes cleanly).
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()  # before importing consumers: it sets up the app registry

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from notifications.routing import RefuseWhenUnavailable, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # daphne serves no static files: in DEBUG the demo serves them itself.
        "http": ASGIStaticFilesHandler(django_asgi_app) if settings.DEBUG else django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            RefuseWhenUnavailable(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
