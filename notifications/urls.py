from __future__ import annotations

from django.urls import path
from django.views.i18n import JavaScriptCatalog

from notifications.views import json_api, pages

app_name = "notifications"

urlpatterns = [
    path("api/", json_api.notification_list, name="api-list"),
    path("api/unread-count/", json_api.unread_count, name="api-unread-count"),
    path("api/mark-read/", json_api.mark_read, name="api-mark-read"),
    path("api/mark-all-read/", json_api.mark_all_read, name="api-mark-all-read"),
    path("api/delete/", json_api.delete, name="api-delete"),
]

# The HTML list page and its no-JavaScript form posts.
urlpatterns += [
    path("", pages.notification_page, name="list"),
    path("mark-read/", pages.page_mark_read, name="page-mark-read"),
    path("mark-all-read/", pages.page_mark_all_read, name="page-mark-all-read"),
    path("delete/", pages.page_delete, name="page-delete"),
]

# The browser client's strings in the request's language (Django's JavaScript catalog), loaded by
# {% notifications_script %}.
urlpatterns += [
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["notifications"]), name="jsi18n"),
]
