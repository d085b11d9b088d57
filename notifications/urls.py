from __future__ import annotations

from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("api/", views.notification_list, name="api-list"),
    path("api/unread-count/", views.unread_count, name="api-unread-count"),
    path("api/mark-read/", views.mark_read, name="api-mark-read"),
    path("api/mark-all-read/", views.mark_all_read, name="api-mark-all-read"),
    path("api/delete/", views.delete, name="api-delete"),
]
