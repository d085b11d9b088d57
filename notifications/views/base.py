"""What the JSON API and the HTML page both read: ids and seq cursors from a request, and one page of
the user's notifications by seq."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, QueryDict

from notifications import api, protocol
from notifications.exceptions import InvalidNotification
from notifications.models import Notification


def ids(request: HttpRequest) -> list[int]:
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


def cursor(params: QueryDict, name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        return protocol.parse_since(raw)
    except protocol.ProtocolError:
        raise InvalidNotification(f"`{name}` must be a non-negative integer.") from None


def seq_page(
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
