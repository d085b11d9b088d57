"""django-notifications-hq's views and URL names, on our inbox.

The list pages are ours (``all`` is our list page, ``unread`` the same filtered). hq changed state on a
GET link (mark_as_read, mark_as_unread, mark_all_as_read, delete): a cross-site request forgery. Here a
GET of those links shows a one-button confirmation form that POSTs (with the CSRF token) to the same
URL, so links in old emails and templates still work; a POST changes the state and redirects to
``next`` as hq did. Every change goes through notifications.api: counts stay exact, sockets hear it.
The JSON endpoints answer what hq's notify.js reads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from notifications import api
from notifications.compat.mixins import slug2id
from notifications.exceptions import NotificationNotFound
from notifications.models import Notification

#: hq's NUM_TO_FETCH default, and the most its ``max`` parameter may ask for.
NUM_TO_FETCH = 10
MAX_TO_FETCH = 100


@login_required
@require_safe
def unread_page(request: HttpRequest) -> HttpResponse:
    """hq's ``notifications:unread``: our list page, unread only."""
    return redirect(f"{reverse('notifications:list')}?filter=unread")


def _next(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse(default)
    return redirect(target)


def _confirmed(
    action: str | Promise, default_next: str
) -> Callable[[Callable[[HttpRequest, int | None], Any]], Callable[..., HttpResponseBase]]:
    """GET: the confirmation form; POST (CSRF-checked by the middleware): the change, then ``next``."""

    def decorate(
        change: Callable[[HttpRequest, int | None], Any],
    ) -> Callable[..., HttpResponseBase]:
        @login_required
        @require_http_methods(["GET", "HEAD", "POST"])
        def view(request: HttpRequest, slug: str | None = None) -> HttpResponse:
            pk = None if slug is None else slug2id(slug)
            if (
                pk is not None
                and not Notification.objects.filter(pk=pk, recipient_id=request.user.pk).exists()
            ):
                return render(
                    request, "notifications/hq_confirm.html", {"missing": True}, status=404
                )
            if request.method != "POST":
                return render(
                    request,
                    "notifications/hq_confirm.html",
                    {"action": action, "next": request.GET.get("next", "")},
                )
            with contextlib.suppress(NotificationNotFound):  # deleted meanwhile: nothing to do
                change(request, pk)
            return _next(request, default_next)

        view.__name__ = view.__qualname__ = change.__name__
        return view

    return decorate


@_confirmed(_("Mark all notifications as read"), "notifications:unread")
def mark_all_as_read(request: HttpRequest, pk: int | None) -> None:
    api.mark_all_read(request.user)


@_confirmed(_("Mark this notification as read"), "notifications:unread")
def mark_as_read(request: HttpRequest, pk: int | None) -> None:
    api.mark_read(request.user, [pk])


@_confirmed(_("Mark this notification as unread"), "notifications:unread")
def mark_as_unread(request: HttpRequest, pk: int | None) -> None:
    api.mark_unread(request.user, [pk])


@_confirmed(_("Delete this notification"), "notifications:all")
def delete(request: HttpRequest, pk: int | None) -> None:
    api.delete(request.user, [pk])


def _payload(n: Notification) -> dict[str, Any]:
    """One item as hq's get_notification_list() built it (model_to_dict + slug + str of objects)."""
    item: dict[str, Any] = {
        "id": n.pk,
        "level": n.level,
        "recipient": n.recipient_id,
        "unread": n.unread,
        "actor_content_type": n.actor_content_type_id,
        "actor_object_id": n.actor_object_id,
        "verb": n.verb,
        "description": n.body or None,
        "target_content_type": n.target_content_type_id,
        "target_object_id": n.target_object_id or None,
        "action_object_content_type": n.action_object_content_type_id,
        "action_object_object_id": n.action_object_object_id or None,
        "timestamp": n.created_at,
        "public": n.public,
        "deleted": n.deleted,
        "emailed": n.emailed,
        "slug": n.slug,
    }
    for name in ("actor", "target", "action_object"):
        shown = getattr(n, f"{name}_display")
        if shown:
            item[name] = shown
    data = {k: v for k, v in n.data.items() if k != "hq"} if isinstance(n.data, dict) else n.data
    if data:
        item["data"] = data
    return item


def _count(request: HttpRequest, key: str) -> int:
    if key == "unread_count":
        return api.unread_count(request.user)
    return Notification.objects.for_user(request.user).inbox().count()


def _fetch_count(request: HttpRequest) -> int:
    raw = request.GET.get("max", "")
    if raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= MAX_TO_FETCH:
        return int(raw)
    return NUM_TO_FETCH  # hq's answer to a bad `max` too


def _same_origin(request: HttpRequest) -> bool:
    # A GET carries no CSRF token: honour hq's `mark_as_read` only on a same-origin fetch.
    return request.headers.get("Sec-Fetch-Site") == "same-origin"


@never_cache
@require_safe
def live_unread_notification_count(request: HttpRequest) -> JsonResponse:
    signed_in = request.user.is_authenticated
    return JsonResponse({"unread_count": _count(request, "unread_count") if signed_in else 0})


@never_cache
@require_safe
def live_all_notification_count(request: HttpRequest) -> JsonResponse:
    signed_in = request.user.is_authenticated
    return JsonResponse({"all_count": _count(request, "all_count") if signed_in else 0})


def _list(request: HttpRequest, kind: str) -> JsonResponse:
    if not request.user.is_authenticated:
        return JsonResponse({f"{kind}_count": 0, f"{kind}_list": []})
    qs = Notification.objects.for_user(request.user).inbox().order_by("-created_at", "-seq")
    if kind == "unread":
        qs = qs.unread()
    page = list(qs[: _fetch_count(request)])
    if request.GET.get("mark_as_read") and _same_origin(request):
        unread = [n.pk for n in page if n.read_at is None]
        if unread:
            api.mark_read(request.user, unread)
    items = [_payload(n) for n in page]
    return JsonResponse({f"{kind}_count": _count(request, f"{kind}_count"), f"{kind}_list": items})


@never_cache
@require_safe
def live_unread_notification_list(request: HttpRequest) -> JsonResponse:
    return _list(request, "unread")


@never_cache
@require_safe
def live_all_notification_list(request: HttpRequest) -> JsonResponse:
    return _list(request, "all")
