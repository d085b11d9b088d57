from __future__ import annotations

from django.urls import path, re_path
from django.views.i18n import JavaScriptCatalog

from notifications.http_errors import api_not_found
from notifications.views import hq, json_api, pages, preferences, push, unsubscribe

app_name = "notifications"

urlpatterns = [
    path("api/", json_api.notification_list, name="api-list"),
    path("api/unread-count/", json_api.unread_count, name="api-unread-count"),
    path("api/mark-read/", json_api.mark_read, name="api-mark-read"),
    path("api/mark-all-read/", json_api.mark_all_read, name="api-mark-all-read"),
    path("api/delete/", json_api.delete, name="api-delete"),
    path("api/mark-seen/", json_api.mark_seen, name="api-mark-seen"),
    path("api/archive/", json_api.archive, name="api-archive"),
    path("api/unarchive/", json_api.unarchive, name="api-unarchive"),
    path("api/snooze/", json_api.snooze, name="api-snooze"),
    # Web Push: the service worker, the browsers' subscriptions, a click on a push (docs/push.md).
    path("sw.js", push.service_worker, name="service-worker"),
    path("api/push-subscriptions/", push.push_subscriptions, name="api-push-subscriptions"),
    path("api/push-read/", push.push_read, name="api-push-read"),
    # The HTML list page and its no-JavaScript form posts.
    path("", pages.notification_page, name="list"),
    path("mark-read/", pages.page_mark_read, name="page-mark-read"),
    path("mark-seen/", pages.page_mark_seen, name="page-mark-seen"),
    path("mark-all-read/", pages.page_mark_all_read, name="page-mark-all-read"),
    path("delete/", pages.page_delete, name="page-delete"),
    path("archive/", pages.page_archive, name="page-archive"),
    path("unarchive/", pages.page_unarchive, name="page-unarchive"),
    path("snooze/", pages.page_snooze, name="page-snooze"),
    # Preferences: the JSON API, the page, and the digest emails' unsubscribe link.
    path("api/preferences/", preferences.preferences_api, name="api-preferences"),
    path("preferences/", preferences.preferences_page, name="preferences"),
    path("unsubscribe/<str:token>/", unsubscribe.unsubscribe, name="unsubscribe"),
    # django-notifications-hq's URL names and paths (views/hq.py): its templates and notify.js keep
    # working.
    path("", pages.notification_page, name="all"),
    path("unread/", hq.unread_page, name="unread"),
    path("mark-all-as-read/", hq.mark_all_as_read, name="mark_all_as_read"),
    path("mark-as-read/<int:slug>/", hq.mark_as_read, name="mark_as_read"),
    path("mark-as-unread/<int:slug>/", hq.mark_as_unread, name="mark_as_unread"),
    path("delete/<int:slug>/", hq.delete, name="delete"),
    path(
        "api/unread_count/",
        hq.live_unread_notification_count,
        name="live_unread_notification_count",
    ),
    path("api/all_count/", hq.live_all_notification_count, name="live_all_notification_count"),
    path(
        "api/unread_list/", hq.live_unread_notification_list, name="live_unread_notification_list"
    ),
    path("api/all_list/", hq.live_all_notification_list, name="live_all_notification_list"),
    # The browser client's strings in the request's language (Django's JavaScript catalog), loaded by
    # {% notifications_script %}.
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["notifications"]), name="jsi18n"),
    # Last: every answer under api/ is JSON, an unknown URL's too.
    re_path(r"^api/", api_not_found),
]
