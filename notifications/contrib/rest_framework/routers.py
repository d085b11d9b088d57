from __future__ import annotations

from rest_framework.routers import DefaultRouter

from notifications.contrib.rest_framework.views import NotificationViewSet

#: ``notifications/`` (list), ``notifications/<id>/`` (retrieve, delete), ``notifications/counts/`` and
#: the POST actions ``notifications/mark-read/`` ... (NotificationViewSet).
router = DefaultRouter()
router.register("notifications", NotificationViewSet, basename="notification")
