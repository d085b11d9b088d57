from __future__ import annotations

from django.urls import path, re_path

from notifications.http import api_not_found
from notifications.views import json_api, pages

app_name = "notifications"

urlpatterns = [
    path("api/", json_api.notification_list, name="api-list"),
    path("api/unread-count/", json_api.unread_count, name="api-unread-count"),
    path("api/mark-read/", json_api.mark_read, name="api-mark-read"),
    path("api/mark-all-read/", json_api.mark_all_read, name="api-mark-all-read"),
    path("api/delete/", json_api.delete, name="api-delete"),
    re_path(r"^api/", api_not_found),  # every answer under api/ is JSON, an unknown URL's too
]

# The HTML list page and its no-JavaScript form posts.
urlpatterns += [
    path("", pages.notification_page, name="list"),
    path("mark-read/", pages.page_mark_read, name="page-mark-read"),
    path("mark-all-read/", pages.page_mark_all_read, name="page-mark-all-read"),
    path("delete/", pages.page_delete, name="page-delete"),
]
