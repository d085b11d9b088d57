"""The admin: notifications (read state kept exact, sockets updated), Broadcast, and a user action.

Every change goes through the api, so unread counts stay exact and open sockets get the
``notification`` / ``read`` / ``unread`` / ``deleted`` frames.

The "Send a notification" action is added in AppConfig.ready() to whatever ModelAdmin the default
admin site has registered for the user model. For a user admin on another site, or one registered
later, list it yourself::

    from notifications.admin import send_notification

    class MyUserAdmin(UserAdmin):
        actions = [send_notification]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from notifications import api, recipients
from notifications.conf import app_settings
from notifications.exceptions import NotificationNotFound
from notifications.forms import BroadcastForm, NotificationAdminForm, SendNotificationForm
from notifications.models import Notification, PushSubscription
from notifications.views.pages import ARCHIVED, UNARCHIVED

BROADCAST_PERMISSION = "notifications.broadcast_notification"
ADD_PERMISSION = "notifications.add_notification"
ADMIN_VERB = "sent you a notification"
BROADCAST_VERB = "broadcast"
ADMIN_CATEGORY = "admin"


class ReadFilter(admin.SimpleListFilter):
    title = _("read state")
    parameter_name = "read"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("no", _("Unread")), ("yes", _("Read"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "no":
            return queryset.filter(read_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(read_at__isnull=False)
        return queryset


class BoxFilter(admin.SimpleListFilter):
    title = _("box")
    parameter_name = "box"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("inbox", _("Inbox")), ("archived", _("Archived")), ("snoozed", _("Snoozed"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "inbox":
            return queryset.filter(archived_at__isnull=True, snoozed_until__isnull=True)
        if self.value() == "archived":
            return queryset.filter(archived_at__isnull=False)
        if self.value() == "snoozed":
            return queryset.filter(snoozed_until__isnull=False)
        return queryset


def _per_recipient(queryset: QuerySet[Notification], change: Callable[..., list[int]]) -> int:
    """Apply an api function (user, ids) to the selection, recipient by recipient."""
    by_user: dict[Any, list[int]] = {}
    for pk, user_pk in queryset.order_by("recipient_id", "pk").values_list("pk", "recipient_id"):
        by_user.setdefault(user_pk, []).append(pk)
    users = get_user_model()._default_manager.in_bulk(list(by_user))
    step = app_settings.MAX_IDS
    changed = 0
    for user_pk, ids in by_user.items():
        for start in range(0, len(ids), step):
            chunk = ids[start : start + step]
            try:
                changed += len(change(users[user_pk], chunk))
            except NotificationNotFound as gone:  # deleted meanwhile: change the others
                rest = [pk for pk in chunk if pk not in gone.ids]
                changed += len(change(users[user_pk], rest)) if rest else 0
    return changed


def _marked(n: int, *, read: bool) -> str:
    if read:
        return ngettext("Marked %d notification read.", "Marked %d notifications read.", n) % n
    return ngettext("Marked %d notification unread.", "Marked %d notifications unread.", n) % n


def _signed_in(request: HttpRequest) -> Model:
    """The admin's user (the admin site lets no anonymous user in)."""
    assert isinstance(request.user, Model)
    return request.user


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = NotificationAdminForm
    list_display = [
        "title_or_verb",
        "recipient",
        "level",
        "category",
        "is_read",
        "box",
        "group_count",
        "created_at",
    ]
    list_filter = [ReadFilter, BoxFilter, "level", "category", "created_at"]
    list_select_related = ["recipient"]
    search_fields = ["title", "verb", "body", "category"]
    raw_id_fields = ["recipient"]
    date_hierarchy = "created_at"
    actions = ["mark_read", "mark_unread", "archive", "unarchive"]
    add_fields = NotificationAdminForm.Meta.fields

    @admin.display(description=_("title"), ordering="title")
    def title_or_verb(self, obj: Notification) -> str:
        return obj.title or obj.verb

    @admin.display(description=_("read"), boolean=True, ordering="read_at")
    def is_read(self, obj: Notification) -> bool:
        return obj.read_at is not None

    @admin.display(description=_("box"))
    def box(self, obj: Notification) -> str:
        if obj.archived_at is not None:
            return str(_("Archived"))
        if obj.snoozed_until is not None:
            return _("Snoozed until %(time)s") % {
                "time": date_format(timezone.localtime(obj.snoozed_until), "DATETIME_FORMAT")
            }
        return str(_("Inbox"))

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        username = get_user_model().USERNAME_FIELD
        return [*self.search_fields, f"recipient__{username}"]

    # A notification is written once, through notify(); afterwards only its read state changes.

    def get_fields(self, request: HttpRequest, obj: Notification | None = None) -> Any:
        if obj is None:
            return self.add_fields
        return [f.name for f in Notification._meta.concrete_fields if f.name != "id"]

    def get_readonly_fields(self, request: HttpRequest, obj: Notification | None = None) -> Any:
        if obj is None:
            return ()
        return self.get_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: Notification, form: Any, change: bool) -> None:
        if change:
            return  # every field is read-only
        # The api allocates seq, counts it unread and delivers it live after commit.
        (created,) = api.notify(obj.recipient, obj.verb, **form.notify_kwargs())
        obj.__dict__.update({k: v for k, v in created.__dict__.items() if not k.startswith("_")})
        obj._state.adding = False
        obj._state.db = created._state.db

    def delete_model(self, request: HttpRequest, obj: Notification) -> None:
        api.delete(obj.recipient, [obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        api.delete_many(queryset)

    @admin.action(description=_("Mark selected notifications as read"), permissions=["change"])
    def mark_read(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        self.message_user(request, _marked(_per_recipient(queryset, api.mark_read), read=True))

    @admin.action(description=_("Mark selected notifications as unread"), permissions=["change"])
    def mark_unread(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        self.message_user(request, _marked(_per_recipient(queryset, api.mark_unread), read=False))

    @admin.action(description=_("Archive selected notifications"), permissions=["change"])
    def archive(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        self.message_user(request, ARCHIVED % {"count": _per_recipient(queryset, api.archive)})

    @admin.action(
        description=_("Move selected notifications back to the inbox"), permissions=["change"]
    )
    def unarchive(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        self.message_user(request, UNARCHIVED % {"count": _per_recipient(queryset, api.unarchive)})

    # Broadcast.

    def has_broadcast_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.has_perm(BROADCAST_PERMISSION))

    def get_urls(self) -> list[URLPattern]:
        info = (self.opts.app_label, self.opts.model_name)
        broadcast = path(
            "broadcast/",
            self.admin_site.admin_view(self.broadcast_view),
            name="{}_{}_broadcast".format(*info),
        )
        return [broadcast, *super().get_urls()]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = {"has_broadcast_permission": self.has_broadcast_permission(request)}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    def broadcast_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_broadcast_permission(request):
            raise PermissionDenied
        form = BroadcastForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            n = api.notify_many(
                form.recipients(),
                BROADCAST_VERB,
                actor=_signed_in(request),
                category=ADMIN_CATEGORY,
                **form.notify_kwargs(),
            )
            self.message_user(
                request,
                ngettext("Notified %d user.", "Notified %d users.", n) % n,
                messages.SUCCESS,
            )
            return HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            **_form_context(form, BROADCAST_FIELDSETS, self),
            "title": _("Broadcast a notification"),
            "opts": self.opts,
            "active_users": recipients.active_users().count(),
        }
        return TemplateResponse(request, "admin/notifications/broadcast.html", context)


_MESSAGE_FIELDS = {"fields": ["title", "body", "url", "level", "group_key"]}
SEND_FIELDSETS: list[tuple[Any, dict[str, Any]]] = [(None, _MESSAGE_FIELDS)]
BROADCAST_FIELDSETS: list[tuple[Any, dict[str, Any]]] = [
    (_("Recipients"), {"fields": ["audience", "group"]}),
    (_("Message"), _MESSAGE_FIELDS),
]


def _form_context(
    form: Any,
    fieldsets: list[tuple[Any, dict[str, Any]]],
    model_admin: admin.ModelAdmin,  # type: ignore[type-arg]
) -> dict[str, Any]:
    """What the admin's own change-form includes need: fieldsets, aligned rows, errors in place."""
    return {
        "form": form,
        "adminform": helpers.AdminForm(form, fieldsets, {}, model_admin=model_admin),
        "errors": form.errors,
        "media": model_admin.media + form.media,
    }


@admin.action(description=_("Send a notification"))
def send_notification(
    modeladmin: admin.ModelAdmin,  # type: ignore[type-arg]
    request: HttpRequest,
    queryset: QuerySet[Any],
) -> HttpResponse | None:
    """User admin action: an intermediate form (title, body, url, level), then notify the selection."""
    if not request.user.has_perm(ADD_PERMISSION):
        modeladmin.message_user(
            request,
            _("You may not send notifications (needs “Can add notification”)."),
            messages.ERROR,
        )
        return None
    form = SendNotificationForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        n = api.notify_many(
            queryset,
            ADMIN_VERB,
            actor=_signed_in(request),
            category=ADMIN_CATEGORY,
            **form.notify_kwargs(),
        )
        modeladmin.message_user(
            request, ngettext("Sent to %d user.", "Sent to %d users.", n) % n, messages.SUCCESS
        )
        return None
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        **_form_context(form, SEND_FIELDSETS, modeladmin),
        "title": _("Send a notification"),
        "opts": opts,
        "count": queryset.count(),
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "action": "send_notification",
        "changelist_url": reverse(
            f"{modeladmin.admin_site.name}:{opts.app_label}_{opts.model_name}_changelist"
        ),
    }
    return TemplateResponse(request, "admin/notifications/send_notification.html", context)


def add_user_actions(site: admin.AdminSite | None = None) -> bool:
    """Add "Send a notification" to the user model's ModelAdmin on `site`; False if none is there."""
    site = site or admin.site
    model_admin = site._registry.get(get_user_model())
    if model_admin is None:
        return False
    actions = list(model_admin.actions or [])
    if send_notification not in actions:
        model_admin.actions = [*actions, send_notification]
    return True


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Each user's Web Push subscriptions, their delivery record, and a test push (docs/push.md)."""

    list_display = [
        "user",
        "browser",
        "created_at",
        "last_success_at",
        "success_count",
        "failure_count",
        "last_error",
    ]
    list_select_related = ["user"]
    list_filter = ["created_at", "last_success_at"]
    raw_id_fields = ["user"]
    ordering = ["user", "-created_at"]
    actions = ["send_test_push"]
    readonly_fields = [
        "endpoint",
        "p256dh",
        "auth",
        "user_agent",
        "browser",
        "created_at",
        "last_success_at",
        "last_failure_at",
        "success_count",
        "failure_count",
        "last_error",
    ]

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return [f"user__{get_user_model().USERNAME_FIELD}", "user_agent"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # browsers register themselves (POST api/push-subscriptions/)

    @admin.action(description=_("Send a test push"), permissions=["change"])
    def send_test_push(self, request: HttpRequest, queryset: QuerySet[PushSubscription]) -> None:
        if app_settings.WEB_PUSH is None:
            self.message_user(
                request,
                _("Web Push is off: NOTIFICATIONS['WEB_PUSH'] has no keys."),
                messages.ERROR,
            )
            return
        from notifications.push_tasks import send_test_push

        ids = list(queryset.values_list("pk", flat=True))
        for pk in ids:
            send_test_push.enqueue(pk)
        self.message_user(
            request,
            ngettext(
                "Test push queued for %d subscription; its outcome shows in the list.",
                "Test pushes queued for %d subscriptions; their outcome shows in the list.",
                len(ids),
            )
            % len(ids),
            messages.SUCCESS,
        )
