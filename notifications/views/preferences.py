"""Preferences: the HTML page /notifications/preferences/ (a form, works without JavaScript) and the
JSON API /notifications/api/preferences/ (GET, and PUT of the categories and channels that change)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from notifications import preferences
from notifications.backends import get_backends
from notifications.conf import app_settings
from notifications.constants import CHANNELS, EMAIL, IN_APP, PUSH
from notifications.exceptions import InvalidPreferences
from notifications.http_errors import error
from notifications.views.json_api import json_endpoint

# A context: Django's own catalogs translate a bare "Email" (French "Courriel") and win over ours.
CHANNEL_LABELS = {
    IN_APP: pgettext_lazy("notification channel", "In the app"),
    PUSH: pgettext_lazy("notification channel", "Desktop"),
    EMAIL: pgettext_lazy("notification channel", "Email"),
}


@json_endpoint(methods=("GET", "PUT"))
def preferences_api(request: HttpRequest) -> HttpResponse:
    """GET the user's preferences; PUT a part of them (same shape), answered with the whole."""
    if request.method == "PUT":
        try:
            body = json.loads(request.body or b"")
        except (ValueError, RecursionError):  # RecursionError: nested too deeply
            return error(400, "invalid", "The body is not valid JSON.")
        try:
            preferences.update(request.user, body)
        except InvalidPreferences as exc:
            return error(400, "invalid", str(exc))
    return JsonResponse(preferences.as_dict(request.user))


def _field(channel: str, category: str) -> str:
    # Channels have no ':', so the first one splits a field name; "*" is the every-category row.
    return f"{channel}:{category}"


def _posted(form: QueryDict, current: dict[str, Any], channels: list[str]) -> dict[str, Any]:
    """The form's state as a body for preferences.update(): an unchecked box is off."""
    return {
        "categories": {
            key: {ch: _field(ch, key) in form for ch in channels} for key in current["categories"]
        },
        "channels": {ch: _field(ch, preferences.EVERY) in form for ch in channels},
    }


@login_required
@csrf_protect
@require_http_methods(["GET", "HEAD", "POST"])
def preferences_page(request: HttpRequest) -> HttpResponse:
    """A table of checkboxes, one row per declared category, one column per configured channel."""
    current = preferences.as_dict(request.user)
    # Only the channels this site delivers: a "Desktop" box without Web Push would do nothing.
    delivered = {backend.name for backend in get_backends()}
    if app_settings.WEB_PUSH is None:  # the push backend is listed by default, but off without keys
        delivered.discard(PUSH)
    channels = [ch for ch in CHANNELS if ch in delivered]
    if request.method == "POST":
        preferences.update(request.user, _posted(request.POST, current, channels))
        messages.success(request, _("Your notification preferences are saved."), fail_silently=True)
        return redirect("notifications:preferences")

    def cells(category: str, values: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"name": _field(ch, category), "label": CHANNEL_LABELS[ch], "checked": values[ch]}
            for ch in channels
        ]

    return render(
        request,
        "notifications/preferences.html",
        {
            "channels": [CHANNEL_LABELS[ch] for ch in channels],
            "every": cells(preferences.EVERY, current["channels"]),
            "rows": [
                {"key": key, "label": values["label"], "cells": cells(key, values)}
                for key, values in current["categories"].items()
            ],
        },
    )
