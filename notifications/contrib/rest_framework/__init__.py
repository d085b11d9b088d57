"""A Django REST framework API over the same operations as the JSON API (``pip install
django-realtime-notifications[drf]``)::

    # urls.py
    from notifications.contrib.rest_framework import router

    urlpatterns = [path("api/", include(router.urls))]   # api/notifications/ ...

Every query is scoped to ``request.user``; authentication and permissions are DRF's (the project's
``DEFAULT_AUTHENTICATION_CLASSES``; ``IsAuthenticated`` on the viewset, which a subclass may tighten).
Changes reach the user's open sockets exactly as they do through the JSON API.
"""

from __future__ import annotations

from notifications.contrib.rest_framework.routers import router
from notifications.contrib.rest_framework.serializers import (
    IdsSerializer,
    NotificationSerializer,
    SnoozeSerializer,
)
from notifications.contrib.rest_framework.views import NotificationViewSet

__all__ = [
    "IdsSerializer",
    "NotificationSerializer",
    "NotificationViewSet",
    "SnoozeSerializer",
    "router",
]
