"""django-notifications-hq's template library, ``{% load notifications_tags %}``, on our inbox.

``live_notify_badge`` carries ``data-notifications-count``, so where our client runs (``{% load
notifications %}{% notifications_script %}{% notifications_bell %}``) the badge updates live over the
WebSocket; ``register_notify_callbacks`` configures notify.js (ours, same globals as hq's), which polls
like hq's and also refreshes at once on our client's events.
"""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from notifications import api

register = template.Library()


def _user(context: template.Context) -> Any:
    request = context.get("request")
    user = getattr(request, "user", None)
    return user if getattr(user, "is_authenticated", False) else None


@register.simple_tag(takes_context=True)
def notifications_unread(context: template.Context) -> int | str:
    """The unread count ("" when signed out, as hq): a primary-key lookup, no COUNT, no cache."""
    user = _user(context)
    return "" if user is None else api.unread_count(user)


@register.filter
def has_notification(user: Any) -> bool:
    return bool(user) and api.unread_count(user) > 0


@register.simple_tag(takes_context=True)
def live_notify_badge(context: template.Context, badge_class: str = "live_notify_badge") -> str:
    user = _user(context)
    if user is None:
        return ""
    return format_html(
        '<span class="{}" data-notifications-count>{}</span>', badge_class, api.unread_count(user)
    )


@register.simple_tag
def live_notify_list(list_class: str = "live_notify_list") -> SafeString:
    return format_html('<ul class="{}"></ul>', list_class)


@register.simple_tag
def register_notify_callbacks(
    badge_class: str = "live_notify_badge",
    menu_class: str = "live_notify_list",
    refresh_period: int = 15,
    callbacks: str = "",
    api_name: str = "list",
    fetch: int = 5,
    nonce: str | None = None,
    mark_as_read: bool = False,
) -> SafeString | str:
    """hq's notify.js settings, and ``register_notifier(<callback>)`` for each named callback."""
    if api_name == "list":
        api_url = reverse("notifications:live_unread_notification_list")
    elif api_name == "count":
        api_url = reverse("notifications:live_unread_notification_count")
    else:
        return ""
    settings = {
        "notify_badge_class": badge_class,
        "notify_menu_class": menu_class,
        "notify_api_url": api_url,
        "notify_fetch_count": str(int(fetch)),
        "notify_unread_url": reverse("notifications:unread"),
        "notify_mark_all_unread_url": reverse("notifications:mark_all_as_read"),
        "notify_refresh_period": int(refresh_period) * 1000,
        "notify_mark_as_read": bool(mark_as_read),
    }
    # json.dumps and the escaping of "<", ">", "&": no value can end the script element.
    lines = [f"{name}={_js(value)};" for name, value in settings.items()]
    for callback in callbacks.split(","):
        name = callback.strip()
        if name.isidentifier():  # a function name, as hq documents; anything else is dropped
            lines.append(f"register_notifier({name});")
    nonce_attr = format_html(' nonce="{}"', nonce) if nonce else ""
    return mark_safe(  # noqa: S308  # every value above is JSON-escaped or an identifier
        f'<script type="text/javascript"{nonce_attr}>{"".join(lines)}</script>'
    )


def _js(value: Any) -> str:
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
