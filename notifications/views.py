"""The JSON HTTP API and the HTML list page, scoped to the signed-in user. Changes need POST and a
CSRF token.

JSON errors are: ``{"error": {"code": "...", "message": "..."}}`` with a 4xx status, or 503 when the
database fails and 500 on a bug (notifications/http.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from notifications import api, protocol
from notifications.conf import app_settings
from notifications.exceptions import InvalidNotification, NotificationNotFound
from notifications.http import error, json_errors
from notifications.models import Notification
from notifications.templatetags.notifications import client_config, safe_href

View = Callable[..., HttpResponse]


class _CsrfCheck(CsrfViewMiddleware):
    # Django's CSRF check, answering JSON instead of the HTML failure page.
    def _reject(self, request: HttpRequest, reason: str) -> HttpResponse:
        return error(403, "csrf_failed", f"CSRF verification failed: {reason}")


def _get_response(request: HttpRequest) -> HttpResponse:  # never called: the check only rejects
    return HttpResponse()


def json_endpoint(*, methods: tuple[str, ...]) -> Callable[[View], View]:
    """Allowed methods, signed-in user, CSRF on POST, JSON errors (the database down included)."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = error(
                    405, "method_not_allowed", f"Use {' or '.join(methods)} for this endpoint."
                )
                response["Allow"] = ", ".join(methods)
                return response
            if not request.user.is_authenticated:
                return error(401, "not_authenticated", "Sign in to use notifications.")
            try:
                if request.method == "POST":
                    check = _CsrfCheck(_get_response)
                    check.process_request(request)
                    rejected = check.process_view(request, None, (), {})  # type: ignore[arg-type]
                    if rejected is not None:
                        return rejected
                return view(request, *args, **kwargs)
            except NotificationNotFound as exc:
                return error(404, "not_found", str(exc))
            except InvalidNotification as exc:
                return error(400, "invalid", str(exc))
            except SuspiciousOperation as exc:  # too many fields, body too big ...
                return error(400, "invalid", f"The request was refused: {type(exc).__name__}.")

        return json_errors(wrapper)

    return decorate


def _ids(request: HttpRequest) -> list[int]:
    """ids from a JSON body {"ids": [...]} or from form fields ids=1&ids=2."""
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, RecursionError):  # RecursionError: nested too deeply
            raise InvalidNotification("The body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise InvalidNotification('The body must be a JSON object: {"ids": [...]}.')
        raw: Any = body.get("ids")
        if not isinstance(raw, list):
            raise InvalidNotification('"ids" must be a list of notification ids.')
    else:
        values = request.POST.getlist("ids")
        try:
            raw = [int(v) for v in values]
        except ValueError:
            raise InvalidNotification("ids must be integers.") from None
    return api.clean_ids(raw)


def _cursor(params: QueryDict, name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        return protocol.parse_since(raw)
    except protocol.ProtocolError:
        raise InvalidNotification(f"`{name}` must be a non-negative integer.") from None


def _seq_page(
    user: Any, *, unread: bool, before: int | None, after: int | None, limit: int
) -> tuple[list[Notification], bool]:
    """One page of the user's notifications by seq cursor, and whether there are more.

    Newest first below `before`; oldest first above `after`.
    """
    qs = Notification.objects.for_user(user)
    if unread:
        qs = qs.unread()
    if after is not None:
        qs = qs.filter(seq__gt=after).order_by("seq")
    else:
        qs = qs.order_by("-seq")
        if before is not None:
            qs = qs.filter(seq__lt=before)
    rows = list(qs[: limit + 1])
    return rows[:limit], len(rows) > limit


def _state(request: HttpRequest, **extra: Any) -> JsonResponse:
    unread, last_seq = api.inbox(request.user)
    return JsonResponse({**extra, "unread_count": unread, "last_seq": last_seq})


@json_endpoint(methods=("GET",))
def notification_list(request: HttpRequest) -> HttpResponse:
    """Newest first, paginated by seq: ?before=<seq>; ?after=<seq> lists oldest first instead."""
    params = request.GET
    limit_raw = params.get("limit") or str(app_settings.PAGE_SIZE)
    # isdigit() alone accepts "²" and other digits int() refuses: ASCII, and short, only.
    valid = limit_raw.isascii() and limit_raw.isdigit() and len(limit_raw) <= 6
    if not valid or not 1 <= int(limit_raw) <= int(app_settings.MAX_PAGE_SIZE):
        raise InvalidNotification(f"`limit` must be 1 to {app_settings.MAX_PAGE_SIZE}.")
    limit = int(limit_raw)
    before, after = _cursor(params, "before"), _cursor(params, "after")
    if before is not None and after is not None:
        raise InvalidNotification("Use `before` or `after`, not both.")
    page, more = _seq_page(
        request.user,
        unread=params.get("unread") in {"1", "true"},
        before=before,
        after=after,
        limit=limit,
    )
    return _state(
        request,
        results=[protocol.notification_payload(n) for n in page],
        next_before=page[-1].seq if more and after is None else None,
        next_after=page[-1].seq if more and after is not None else None,
    )


@json_endpoint(methods=("GET",))
def unread_count(request: HttpRequest) -> HttpResponse:
    return _state(request)


@json_endpoint(methods=("POST",))
def mark_read(request: HttpRequest) -> HttpResponse:
    return _state(request, ids=api.mark_read(request.user, _ids(request)))


@json_endpoint(methods=("POST",))
def mark_all_read(request: HttpRequest) -> HttpResponse:
    return _state(request, ids=api.mark_all_read(request.user))


@json_endpoint(methods=("POST",))
def delete(request: HttpRequest) -> HttpResponse:
    return _state(request, ids=api.delete(request.user, _ids(request)))


# ------------------------------------------------------------------------------------------------
# The HTML list page, /notifications/: server-rendered, paginated by seq, usable without JavaScript
# (mark read / mark all read / delete are POST forms that redirect back); notifications.js keeps it live.


@login_required
@require_safe
def notification_page(request: HttpRequest) -> HttpResponse:
    """The full list, newest first: ?filter=unread|all, ?before=<seq> for older pages."""
    unread_only = request.GET.get("filter") == "unread"
    try:
        before = _cursor(request.GET, "before")
    except InvalidNotification:
        before = None
    page, more = _seq_page(
        request.user,
        unread=unread_only,
        before=before,
        after=None,
        limit=int(app_settings.PAGE_SIZE),
    )
    current = "unread" if unread_only else "all"
    return render(
        request,
        "notifications/list.html",
        {
            "notifications": [(n, safe_href(n.url)) for n in page],
            "filter": current,
            "first_page": before is None,
            "next_before": page[-1].seq if more else None,
            "config": client_config(request),
            "here": request.get_full_path(),
        },
    )


def _back(request: HttpRequest) -> HttpResponse:
    """Redirect to the `next` field if it is a URL of this site, else to the list page."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("notifications:list")
    return redirect(target)


def _page_change(request: HttpRequest, change: Callable[[], list[int]], done: str) -> HttpResponse:
    try:
        ids = change()
    except (InvalidNotification, NotificationNotFound) as exc:
        messages.error(request, str(exc), fail_silently=True)
    else:
        messages.success(request, done.format(count=len(ids)), fail_silently=True)
    return _back(request)


@login_required
@require_POST
def page_mark_read(request: HttpRequest) -> HttpResponse:
    """Form post: mark the `ids` read, then go back."""
    return _page_change(
        request, lambda: api.mark_read(request.user, _ids(request)), "Marked {count} as read."
    )


@login_required
@require_POST
def page_mark_all_read(request: HttpRequest) -> HttpResponse:
    """Form post: mark everything read, then go back."""
    return _page_change(request, lambda: api.mark_all_read(request.user), "Marked {count} as read.")


@login_required
@require_POST
def page_delete(request: HttpRequest) -> HttpResponse:
    """Form post: delete the `ids`, then go back."""
    return _page_change(
        request, lambda: api.delete(request.user, _ids(request)), "Deleted {count}."
    )
