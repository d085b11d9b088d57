"""One viewset: list by seq cursor, retrieve, delete, counts, and the state changes as POST actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from notifications import api
from notifications.conf import app_settings
from notifications.contrib.rest_framework.serializers import (
    IdsSerializer,
    NotificationSerializer,
    SnoozeSerializer,
)
from notifications.exceptions import InvalidNotification, NotificationNotFound
from notifications.models import Notification
from notifications.views.base import cursor, seq_page

# A change of the api: (user, ids) -> the ids that changed.
Change = Callable[[Any, list[int]], list[int]]


def _counts(user: Any, **extra: Any) -> dict[str, Any]:
    unread, unseen, last_seq = api.inbox_counts(user)
    return {**extra, "unread_count": unread, "unseen_count": unseen, "last_seq": last_seq}


class NotificationViewSet(
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The signed-in user's notifications.

    GET ``?before=<seq>`` (newest first) or ``?after=<seq>`` (oldest first), ``limit``, and the filters
    ``unread=1``, ``category=<key>``, ``archived=1`` (the archive) or ``snoozed=1``.
    """

    serializer_class = NotificationSerializer
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]

    def get_queryset(self) -> Any:
        # Every lookup, the detail routes' included: another user's id is a 404.
        return Notification.objects.for_user(self.request.user)

    def list(self, request: Request) -> Response:
        params = request.query_params
        try:
            before, after = cursor(params, "before"), cursor(params, "after")
            limit = cursor(params, "limit") or app_settings.PAGE_SIZE
        except InvalidNotification as exc:
            raise ValidationError({"detail": str(exc)}) from None
        if before is not None and after is not None:
            raise ValidationError({"detail": "Use `before` or `after`, not both."})
        if not 1 <= limit <= app_settings.MAX_PAGE_SIZE:
            raise ValidationError({"limit": f"1 to {app_settings.MAX_PAGE_SIZE}."})
        truthy = {"1", "true"}
        view = "inbox"
        if params.get("archived") in truthy:
            view = "archived"
        elif params.get("snoozed") in truthy:
            view = "snoozed"
        page, more = seq_page(
            request.user,
            unread=params.get("unread") in truthy,
            before=before,
            after=after,
            limit=limit,
            view=view,
            category=params.get("category"),
        )
        return Response(
            _counts(
                request.user,
                results=NotificationSerializer(page, many=True).data,
                next_before=page[-1].seq if more and after is None else None,
                next_after=page[-1].seq if more and after is not None else None,
            )
        )

    def perform_destroy(self, instance: Notification) -> None:
        api.delete(self.request.user, [instance.pk])

    @action(detail=False, methods=["get"])
    def counts(self, request: Request) -> Response:
        return Response(_counts(request.user))

    def _change(self, request: Request, change: Change) -> Response:
        body = IdsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            changed = change(request.user, body.validated_data["ids"])
        except NotificationNotFound as exc:
            raise NotFound(str(exc)) from None
        return Response(_counts(request.user, ids=changed))

    @action(detail=False, methods=["post"], url_path="mark-read")
    def mark_read(self, request: Request) -> Response:
        return self._change(request, api.mark_read)

    @action(detail=False, methods=["post"], url_path="mark-unread")
    def mark_unread(self, request: Request) -> Response:
        return self._change(request, api.mark_unread)

    @action(detail=False, methods=["post"], url_path="mark-seen")
    def mark_seen(self, request: Request) -> Response:
        return self._change(request, api.mark_seen)

    @action(detail=False, methods=["post"], url_path="mark-all-read")
    def mark_all_read(self, request: Request) -> Response:
        return Response(_counts(request.user, ids=api.mark_all_read(request.user)))

    @action(detail=False, methods=["post"])
    def archive(self, request: Request) -> Response:
        return self._change(request, api.archive)

    @action(detail=False, methods=["post"])
    def unarchive(self, request: Request) -> Response:
        return self._change(request, api.unarchive)

    @action(detail=False, methods=["post"], url_path="delete")
    def delete_many(self, request: Request) -> Response:
        return self._change(request, api.delete)

    @action(detail=False, methods=["post"])
    def snooze(self, request: Request) -> Response:
        body = SnoozeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        until = body.validated_data["until"]
        try:
            changed = api.snooze(request.user, body.validated_data["ids"], until)
        except NotificationNotFound as exc:
            raise NotFound(str(exc)) from None
        except InvalidNotification as exc:
            raise ValidationError({"until": str(exc)}) from None
        return Response(_counts(request.user, ids=changed, until=until))
