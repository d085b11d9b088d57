"""WebSocket routes: include them in your project's URLRouter."""

from __future__ import annotations

from django.urls import path

from notifications.consumers import NotificationConsumer

websocket_urlpatterns = [
    path("ws/notifications/", NotificationConsumer.as_asgi(), name="notifications-ws"),
]
