"""JSON answers for the HTTP API whatever goes wrong: never Django's HTML error pages.

``json_errors`` wraps a JSON view: the database down (any ``DatabaseError``) answers 503, any other
exception 500, both as ``{"error": {"code": ..., "message": ...}}``. ``api_not_found`` answers unknown
URLs under the API. The shape of every JSON error is built by ``error()`` here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.db import DatabaseError, connections, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from notifications import logs

logger = logging.getLogger("notifications.http_errors")

View = Callable[..., HttpResponse]


def error(status: int, code: str, message: str) -> JsonResponse:
    """The JSON error answer of the API."""
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def json_errors(view: View) -> View:
    """Answer JSON 503 when the database fails and JSON 500 on any other exception."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except DatabaseError as exc:
            _rollback()
            # An outage fails every request: one line per kind per interval, never one per request.
            detail = " ".join(str(exc).split())  # one line, whatever the driver's message holds
            kind = type(exc).__name__
            logs.warn_once(
                logger,
                f"api-database-{kind}",
                "Notifications API answered 503: the database failed: %s: %s",
                kind,
                detail,
            )
            return _logged(
                error(
                    503,
                    "unavailable",
                    "Notifications are unavailable right now; try again shortly.",
                )
            )
        except Exception:
            _rollback()
            # A bug, not an outage: its traceback is worth one log record.
            logger.exception("Notifications API failed on %s", request.path)
            return _logged(error(500, "server_error", "The server failed; nothing was changed."))

    return wrapper


def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any unknown URL under the API."""
    return error(404, "not_found", "There is no such endpoint of the notifications API.")


def _logged(response: JsonResponse) -> JsonResponse:
    # Logged above: Django would log every 5xx once more (django.request), once per request.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _rollback() -> None:
    # Under ATOMIC_REQUESTS the view runs in a transaction that would otherwise commit our answer.
    for connection in connections.all(initialized_only=True):
        if connection.in_atomic_block:
            transaction.set_rollback(True, using=connection.alias)
