"""What the JSON API and the HTML page both read: ids and seq cursors from a request, and one page of
the user's notifications by seq."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.http import HttpRequest, QueryDict

from notifications import api, protocol
from notifications.exceptions import InvalidNotification
from notifications.models import Notification


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        raise InvalidNotification("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidNotification('The body must be a JSON object: {"ids": [...]}.')
    return body


def ids(request: HttpRequest) -> list[int]:
    """ids from a JSON body {"ids": [...]} or from form fields ids=1&ids=2."""
    if request.content_type == "application/json":
        raw: Any = _json_body(request).get("ids")
        if not isinstance(raw, list):
            raise InvalidNotification('"ids" must be a list of notification ids.')
    else:
        values = request.POST.getlist("ids")
        try:
            raw = [int(v) for v in values]
        except ValueError:
            raise InvalidNotification("ids must be integers.") from None
    return api.clean_ids(raw)


def snooze_time(request: HttpRequest) -> datetime:
    """When a snooze ends, from `preset` (with `tz`) or `until`, in a JSON body or form fields."""
    if request.content_type == "application/json":
        fields = _json_body(request)
    else:
        fields = {k: request.POST[k] for k in ("preset", "until", "tz") if request.POST.get(k)}
    try:
        preset, until, tz = protocol.parse_snooze(fields)
    except protocol.ProtocolError as exc:
        raise InvalidNotification(exc.message) from None
    return until or api.snooze_until(preset, tz)


VIEWS = ("inbox", "archived", "snoozed")


def view_name(params: QueryDict) -> str:
    """Which list: ?view=inbox (the default), archived or snoozed."""
    view = params.get("view") or "inbox"
    if view not in VIEWS:
        raise InvalidNotification(f"`view` must be one of: {', '.join(VIEWS)}.")
    return view


def cursor(params: QueryDict, name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        return protocol.parse_since(raw)
    except protocol.ProtocolError:
        raise InvalidNotification(f"`{name}` must be a non-negative integer.") from None


def seq_page(
    user: Any,
    *,
    unread: bool,
    before: int | None,
    after: int | None,
    limit: int,
    view: str = "inbox",
    category: str | None = None,
) -> tuple[list[Notification], bool]:
    """One page of the user's notifications of one view by seq cursor, and whether there are more.

    Newest first below `before`; oldest first above `after`.
    """
    mine = Notification.objects.for_user(user)
    qs = {"inbox": mine.inbox, "archived": mine.archived, "snoozed": mine.snoozed}[view]()
    if unread:
        qs = qs.unread()
    if category is not None:
        qs = qs.filter(category=category)
    if after is not None:
        qs = qs.filter(seq__gt=after).order_by("seq")
    else:
        qs = qs.order_by("-seq")
        if before is not None:
            qs = qs.filter(seq__lt=before)
    rows = list(qs[: limit + 1])
    return rows[:limit], len(rows) > limit
