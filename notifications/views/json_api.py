"""The JSON HTTP API, scoped to the signed-in user. Changes need POST and a CSRF token.

JSON errors are: ``{"error": {"code": "...", "message": "..."}}`` with a 4xx status, or 503 when the
database fails and 500 on a bug (notifications/http_errors.py).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from notifications import api, protocol
from notifications.conf import app_settings
from notifications.exceptions import InvalidNotification, NotificationNotFound
from notifications.http_errors import error, json_errors
from notifications.views.base import cursor, ids, seq_page, snooze_time, view_name

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
                if request.method not in ("GET", "HEAD"):  # POST, PUT (preferences), DELETE (push)
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


def _state(request: HttpRequest, **extra: Any) -> JsonResponse:
    unread, unseen, last_seq = api.inbox_counts(request.user)
    return JsonResponse(
        {**extra, "unread_count": unread, "unseen_count": unseen, "last_seq": last_seq}
    )


@json_endpoint(methods=("GET",))
def notification_list(request: HttpRequest) -> HttpResponse:
    """Newest first, paginated by seq: ?before=<seq>; ?after=<seq> lists oldest first instead.

    ?view=archived or ?view=snoozed lists those instead of the inbox.
    """
    params = request.GET
    limit_raw = params.get("limit") or str(app_settings.PAGE_SIZE)
    # isdigit() alone accepts "²" and other digits int() refuses: ASCII, and short, only.
    valid = limit_raw.isascii() and limit_raw.isdigit() and len(limit_raw) <= 6
    if not valid or not 1 <= int(limit_raw) <= app_settings.MAX_PAGE_SIZE:
        raise InvalidNotification(f"`limit` must be 1 to {app_settings.MAX_PAGE_SIZE}.")
    limit = int(limit_raw)
    before, after = cursor(params, "before"), cursor(params, "after")
    if before is not None and after is not None:
        raise InvalidNotification("Use `before` or `after`, not both.")
    page, more = seq_page(
        request.user,
        unread=params.get("unread") in {"1", "true"},
        before=before,
        after=after,
        limit=limit,
        view=view_name(params),
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
def mark_all_read(request: HttpRequest) -> HttpResponse:
    return _state(request, ids=api.mark_all_read(request.user))


def _ids_post(change: Callable[[Any, list[int]], list[int]], doc: str) -> View:
    """The POST endpoint named after the api verb `change`: it applies the verb to the body's `ids`
    and answers the ids that changed with the inbox counts."""

    def view(request: HttpRequest) -> HttpResponse:
        return _state(request, ids=change(request.user, ids(request)))

    # Set before json_endpoint, whose functools.wraps copies them: URL resolving, debug pages and
    # tracing name the view by its dotted path.
    view.__name__ = view.__qualname__ = change.__name__
    view.__doc__ = doc
    return json_endpoint(methods=("POST",))(view)


mark_read = _ids_post(api.mark_read, "Mark the `ids` read.")
delete = _ids_post(api.delete, "Delete the `ids`.")
mark_seen = _ids_post(api.mark_seen, "Mark the `ids` seen.")
archive = _ids_post(api.archive, "Take the `ids` out of the inbox into the archive.")
unarchive = _ids_post(api.unarchive, "Bring the `ids` back to the inbox.")


@json_endpoint(methods=("POST",))
def snooze(request: HttpRequest) -> HttpResponse:
    """{"ids": [...], "preset": "1h" | "tomorrow" | "next_week", "tz": "..."} or {"ids", "until"}."""
    until = snooze_time(request)
    changed = api.snooze(request.user, ids(request), until)
    return _state(request, ids=changed, until=protocol.isoformat(until))
