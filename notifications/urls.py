from __future__ import annotations

from django.urls import path

from notifications.views import json_api, pages, preferences, push, unsubscribe

app_name = "notifications"

urlpatterns = [
    path("api/", json_api.notification_list, name="api-list"),
    path("api/unread-count/", json_api.unread_count, name="api-unread-count"),
    path("api/mark-read/", json_api.mark_read, name="api-mark-read"),
    path("api/mark-all-read/", json_api.mark_all_read, name="api-mark-all-read"),
    path("api/delete/", json_api.delete, name="api-delete"),
]

# Web Push: the service worker, the browsers' subscriptions, a click on a push (docs/push.md).
urlpatterns += [
    path("sw.js", push.service_worker, name="service-worker"),
    path("api/push-subscriptions/", push.push_subscriptions, name="api-push-subscriptions"),
    path("api/push-read/", push.push_read, name="api-push-read"),
]

# The HTML list page and its no-JavaScript form posts.
urlpatterns += [
    path("", pages.notification_page, name="list"),
    path("mark-read/", pages.page_mark_read, name="page-mark-read"),
    path("mark-all-read/", pages.page_mark_all_read, name="page-mark-all-read"),
    path("delete/", pages.page_delete, name="page-delete"),
]

# Preferences (issue 10): the JSON API, the page, and the digest emails' unsubscribe link.
urlpatterns += [
    path("api/preferences/", preferences.preferences_api, name="api-preferences"),
    path("preferences/", preferences.preferences_page, name="preferences"),
    path("unsubscribe/<str:token>/", unsubscribe.unsubscribe, name="unsubscribe"),
]
