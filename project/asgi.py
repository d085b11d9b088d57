"""ASGI entry point: HTTP through Django, WebSockets through Channels.

The reference stack: ProtocolTypeRouter -> AllowedHostsOriginValidator -> URLRouter. The notifications
route authenticates its sockets itself (notifications.routing.SessionAuthMiddleware), in the consumer's
one trip to the database; routes of your own consumers go inside AuthMiddlewareStack as usual.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()  # before importing consumers: it sets up the app registry

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from notifications.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # daphne serves no static files: in DEBUG the demo serves them itself.
        "http": ASGIStaticFilesHandler(django_asgi_app) if settings.DEBUG else django_asgi_app,
        "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)
