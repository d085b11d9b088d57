"""Template tags for the browser client: ``{% load notifications %}``.

- ``{% notifications_script %}`` writes the stylesheet link, the ES-module ``<script>`` (with a CSP
  nonce from ``nonce=...``, the ``csp_nonce`` context variable or ``request.csp_nonce``) and the
  ``<template>`` elements the client clones (``{% notifications_templates %}`` writes those alone).
- ``{% notifications_bell %}`` renders the bell with the exact unread count and the latest notifications,
  plus the ``data-*`` configuration the script reads.
- ``{% unread_notifications_count %}`` is the signed-in user's unread count.
- ``{{ url|notification_href }}`` is the url if it is safe as an ``href`` (a path or http(s)), else "".
- ``{{ created_at|notification_age }}`` is "now", "5 minutes ago" ... as the client writes it.
"""

from __future__ import annotations

import datetime
from typing import Any

from django import template
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from notifications import api, constants, protocol, validation
from notifications.conf import app_settings
from notifications.exceptions import InvalidNotification
from notifications.models import Notification

register = template.Library()

#: Items the bell renders server-side; the client keeps the same number.
BELL_ITEMS = 20
#: The largest count the badge shows before "99+".
BADGE_CAP = 99
#: The WebSocket path of notifications.routing.websocket_urlpatterns.
WEBSOCKET_PATH = "/ws/notifications/"


def safe_href(url: object) -> str:
    """The url if notify() would accept it (validation.clean_url: "/path" or http(s)://); else ""."""
    if not isinstance(url, str):
        return ""
    try:
        return validation.clean_url(url)
    except InvalidNotification:
        return ""


@register.filter(name="notification_href")
def notification_href(url: object) -> str:
    """A notification url that is safe as an href, or ""."""
    return safe_href(url)


#: Ages (seconds) the client's formatTime (core.js) shares: "now" below a minute, a relative time
#: below a week, a date beyond.
MINUTE = 60
WEEK = 7 * 86400


@register.filter(name="notification_age")
def notification_age(created: object) -> str:
    """ "now" under a minute, "5 minutes ago" (the largest unit, floored) under a week, else a date."""
    if not isinstance(created, datetime.datetime):
        return ""
    now = timezone.now()
    seconds = (now - created).total_seconds()
    if seconds < MINUTE:
        return _("now")
    if seconds < WEEK:
        return _("%(time)s ago") % {"time": timesince(created, now, depth=1)}
    return date_format(timezone.localtime(created), "SHORT_DATE_FORMAT")


@register.filter(name="notification_actors")
def notification_actors(n: object) -> str:
    """Who a grouped notification is from: "ann and bob", "ann, bob and 3 others" ("" below two).

    ``n`` is a Notification or a protocol payload. The actors are distinct and at most
    GROUP_ACTORS are kept: when the list is full and the group had more events, the others are
    "at least" those kept. render.js's actorNames() says the same.
    """
    actors = n.get("actors") if isinstance(n, dict) else getattr(n, "actors", None)
    count = n.get("group_count", 1) if isinstance(n, dict) else getattr(n, "group_count", 1)
    if not isinstance(actors, list):
        return ""
    names = [str(a.get("display", "")) for a in actors if isinstance(a, dict)]
    if len(names) < 2:
        return ""  # the title names the one actor
    if len(names) == 2:
        return _("%(first)s and %(second)s") % {"first": names[0], "second": names[1]}
    others = len(names) - 2
    values = {"first": names[0], "second": names[1], "count": others}
    if len(names) >= constants.GROUP_ACTORS and isinstance(count, int) and count > len(names):
        return (
            ngettext(
                "%(first)s, %(second)s and at least %(count)s other",
                "%(first)s, %(second)s and at least %(count)s others",
                others,
            )
            % values
        )
    return (
        ngettext(
            "%(first)s, %(second)s and %(count)s other",
            "%(first)s, %(second)s and %(count)s others",
            others,
        )
        % values
    )


@register.filter(name="notification_badge")
def notification_badge(count: object) -> str:
    """The badge text: "" for 0, the count, or "99+" past 99 (as the client shows it)."""
    try:
        n = int(count)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return ""
    if n <= 0:
        return ""
    return f"{BADGE_CAP}+" if n > BADGE_CAP else str(n)


def _nonce(context: template.Context, nonce: str | None) -> str:
    if nonce:
        return str(nonce)
    from_context = context.get("csp_nonce")
    if from_context:
        return str(from_context)
    request = context.get("request")
    return str(getattr(request, "csp_nonce", "") or "")


@register.inclusion_tag("notifications/script.html", takes_context=True)
def notifications_script(context: template.Context, nonce: str | None = None) -> dict[str, Any]:
    """The stylesheet, the client module (with a CSP nonce when one is known) and its templates."""
    return {
        "css": static("notifications/css/notifications.css"),
        "js": static("notifications/js/notifications.js"),
        # Web Push's module (docs/push.md), only when the site has VAPID keys.
        "push_js": static("notifications/js/push.js") if app_settings.WEB_PUSH else "",
        "nonce": _nonce(context, nonce),
    }


@register.inclusion_tag("notifications/templates.html")
def notifications_templates() -> dict[str, Any]:
    """The <template> elements the client clones, for a page that writes its own <script> tag."""
    return {}


#: The notification a <template> is rendered with: unread, every optional part present, all text empty
#: (the client fills it in). It has the names of item.html and toast.html (a protocol payload) and those
#: of entry.html (a Notification: pk, is_read).
_PLACEHOLDER: dict[str, Any] = {
    "placeholder": True,
    "id": "",
    "pk": "",
    "seq": "",
    "level": "info",
    "read": False,
    "is_read": False,
    "title": "",
    "verb": "",
    "body": "",
    "href": "",
    "created_at": "",
    "snoozed_until": None,
    "actors": [],
}


@register.simple_tag
def notification_placeholder() -> dict[str, Any]:
    """The empty notification that notifications/*.html render inside a <template>."""
    return dict(_PLACEHOLDER)


def _user(context: template.Context) -> Any:
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    return user if getattr(user, "is_authenticated", False) else None


def client_config(
    request: HttpRequest | None,
    *,
    sound: bool = False,
    toast_duration: int = 6000,
    badge: str = "",
) -> dict[str, Any]:
    """The data-* configuration of the client, with the state the page is rendered with."""
    user: Any = getattr(request, "user", None)
    signed_in = user is not None and bool(user.is_authenticated)
    unread, unseen, last_seq = api.inbox_counts(user)
    if badge not in ("unread", "unseen"):
        badge = app_settings.BADGE
    return {
        "ws_path": WEBSOCKET_PATH,
        "api_url": reverse("notifications:api-list"),
        "csrf_token": get_token(request) if request is not None else "",
        "last_seq": last_seq,
        "unread_count": unread,
        "unseen_count": unseen,
        "badge": badge,
        # What the badge shows, as rendered: the client keeps it up to date.
        "badge_count": unseen if badge == "unseen" else unread,
        "sound": "true" if sound else "false",
        "toast_duration": int(toast_duration),
        # Scopes the client's cross-tab channel and lock to this user's session.
        "user_id": str(user.pk) if signed_in else "",
        # Web Push (docs/push.md): "" while the site has no VAPID keys.
        "vapid_public_key": app_settings.WEB_PUSH.VAPID_PUBLIC_KEY if app_settings.WEB_PUSH else "",
        "push_subscriptions_url": reverse("notifications:api-push-subscriptions"),
        "service_worker_url": reverse("notifications:service-worker"),
    }


@register.inclusion_tag("notifications/bell.html", takes_context=True)
def notifications_bell(
    context: template.Context, sound: bool = False, toast_duration: int = 6000, badge: str = ""
) -> dict[str, Any]:
    """The bell, its badge and its dropdown, rendered with the exact state; nothing when signed out.

    ``badge``: "unread" or "unseen", what the badge counts (default: NOTIFICATIONS["BADGE"]).
    """
    user = _user(context)
    if user is None:
        return {"user": None}
    config = client_config(
        context.get("request"), sound=sound, toast_duration=toast_duration, badge=badge
    )
    latest = list(Notification.objects.for_user(user).inbox().order_by("-seq")[:BELL_ITEMS])
    initial = [protocol.notification_payload(n) for n in latest]
    items = [
        {**payload, "href": safe_href(n.url), "created": n.created_at}
        for n, payload in zip(latest, initial, strict=True)
    ]
    return {
        "user": user,
        "config": config,
        "items": items,
        "initial": initial,
        "unread_count": config["unread_count"],
        "badge": config["badge"],
        "badge_count": config["badge_count"],
    }


@register.simple_tag(takes_context=True)
def unread_notifications_count(context: template.Context) -> int:
    """The signed-in user's unread count (0 when signed out)."""
    return api.unread_count(_user(context))
