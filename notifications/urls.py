from __future__ import annotations

from django.urls import path, re_path

from notifications import views
from notifications.http import api_not_found

app_name = "notifications"

urlpatterns = [
    path("api/", views.notification_list, name="api-list"),
    path("api/unread-count/", views.unread_count, name="api-unread-count"),
    path("api/mark-read/", views.mark_read, name="api-mark-read"),
    path("api/mark-all-read/", views.mark_all_read, name="api-mark-all-read"),
    path("api/delete/", views.delete, name="api-delete"),
    re_path(r"^api/", api_not_found),  # every answer under api/ is JSON, an unknown URL's too
]

# The HTML list page and its no-JavaScript form posts.
urlpatterns += [
    path("", views.notification_page, name="list"),
    path("mark-read/", views.page_mark_read, name="page-mark-read"),
    path("mark-all-read/", views.page_mark_all_read, name="page-mark-all-read"),
    path("delete/", views.page_delete, name="page-delete"),
]
