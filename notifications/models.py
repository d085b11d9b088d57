"""The inbox: one Notification row per recipient, and one InboxState row per user.

``InboxState`` hands out ``seq`` inside the creating transaction (its row is the per-user lock) and keeps
the unread and unseen counts of the inbox (the notifications neither archived nor snoozed), so reading a
count is a primary-key lookup, never a COUNT over notifications. The models' querysets, which lock inbox
rows, keep their counts and delete notifications (the one delete path), are in querysets.py.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models, router
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from notifications.compat.mixins import HqNotificationMixin
from notifications.constants import (
    CATEGORY_MAX_LENGTH,
    DISPLAY_MAX_LENGTH,
    GROUP_KEY_MAX_LENGTH,
    PUSH_ENDPOINT_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    URL_MAX_LENGTH,
    VERB_MAX_LENGTH,
    Level,
)
from notifications.querysets import InboxStateQuerySet, NotificationQuerySet


class InboxState(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="notification_inbox",
    )
    last_seq = models.PositiveBigIntegerField(default=0)
    unread_count = models.PositiveIntegerField(default=0)
    # Like unread_count: the inbox's notifications nobody has seen yet (a dropdown showed them).
    unseen_count = models.PositiveIntegerField(default=0)

    objects: ClassVar[InboxStateQuerySet] = InboxStateQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("inbox state")
        verbose_name_plural = _("inbox states")

    def __str__(self) -> str:
        return f"inbox of {self.user_id}: {self.unread_count} unread, last seq {self.last_seq}"


def _generic_relation(
    name: str, type_name: Any, id_name: Any, display_name: Any
) -> tuple[
    models.ForeignKey[Any, Any],
    models.CharField[Any, Any],
    GenericForeignKey,
    models.CharField[Any, Any],
]:
    """The content type, object id, object and display text of one object a notification names."""
    return (
        models.ForeignKey(
            ContentType,
            on_delete=models.CASCADE,
            null=True,
            blank=True,
            related_name="+",
            verbose_name=type_name,
        ),
        models.CharField(id_name, max_length=255, blank=True),
        GenericForeignKey(f"{name}_content_type", f"{name}_object_id"),
        models.CharField(display_name, max_length=DISPLAY_MAX_LENGTH, blank=True),
    )


class Notification(HqNotificationMixin, models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("recipient"),
    )
    seq = models.PositiveBigIntegerField(
        _("sequence number"), editable=False, help_text=_("1, 2, 3 ... per recipient.")
    )
    verb = models.CharField(_("verb"), max_length=VERB_MAX_LENGTH)
    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH, blank=True)
    body = models.TextField(_("body"), blank=True)
    url = models.CharField(_("URL"), max_length=URL_MAX_LENGTH, blank=True)
    level = models.CharField(_("level"), max_length=16, choices=Level.choices, default=Level.INFO)
    category = models.CharField(_("category"), max_length=CATEGORY_MAX_LENGTH, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    # Grouping: while the recipient has an unread notification in the inbox (neither archived nor
    # snoozed) with the same group_key, a new one collapses into it (fanout.py): group_count grows
    # and actors keeps the newest ones.
    group_key = models.CharField(
        _("group key"),
        max_length=GROUP_KEY_MAX_LENGTH,
        blank=True,
        help_text=_("Unread notifications with the same key collapse into one."),
    )
    group_count = models.PositiveIntegerField(_("events"), default=1, editable=False)
    actors = models.JSONField(_("actors"), default=list, blank=True, editable=False)

    actor_content_type, actor_object_id, actor, actor_display = _generic_relation(
        "actor", _("actor type"), _("actor id"), _("actor display")
    )
    target_content_type, target_object_id, target, target_display = _generic_relation(
        "target", _("target type"), _("target id"), _("target display")
    )
    (
        action_object_content_type,
        action_object_object_id,
        action_object,
        action_object_display,
    ) = _generic_relation(
        "action_object",
        _("action object type"),
        _("action object id"),
        _("action object display"),
    )

    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    # Reading is seeing: a read notification is always seen. Archived and snoozed notifications leave
    # the inbox, and its unread and unseen counts; a snoozed one comes back at snoozed_until.
    seen_at = models.DateTimeField(_("seen at"), null=True, blank=True)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)
    snoozed_until = models.DateTimeField(_("snoozed until"), null=True, blank=True)

    objects: ClassVar[NotificationQuerySet] = NotificationQuerySet.as_manager()  # type: ignore[assignment]

    #: Not a column: whether the recipient had a Web Push subscription when ``notify()`` created this
    #: notification, read by the statement that inserted it (fanout.py), so that the push backend
    #: needs no query of its own; None when unknown (Web Push off, or loaded any other way).
    recipient_has_push: bool | None = None

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-pk"]
        permissions = [("broadcast_notification", "Can broadcast notifications to many users")]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "seq"], name="notifications_unique_recipient_seq"
            ),
        ]
        indexes = [
            models.Index(
                fields=["recipient", "seq"],
                condition=Q(read_at__isnull=True),
                name="notifications_unread_idx",
            ),
            models.Index(
                fields=["actor_content_type", "actor_object_id"], name="notifications_actor_idx"
            ),
            models.Index(
                fields=["target_content_type", "target_object_id"],
                name="notifications_target_idx",
            ),
            models.Index(
                fields=["action_object_content_type", "action_object_object_id"],
                name="notifications_action_obj_idx",
            ),
            models.Index(fields=["created_at"], name="notifications_created_idx"),
            # wake_snoozed finds the due ones without reading the rest.
            models.Index(
                fields=["snoozed_until"],
                condition=Q(snoozed_until__isnull=False),
                name="notifications_snoozed_idx",
            ),
            models.Index(
                fields=["recipient", "group_key"],
                condition=Q(read_at__isnull=True) & ~Q(group_key=""),
                name="notifications_unread_group_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.title or self.verb

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    @property
    def is_seen(self) -> bool:
        return self.seen_at is not None

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def delete(
        self, using: str | None = None, keep_parents: bool = False
    ) -> tuple[int, dict[str, int]]:
        """Delete through the queryset: the one path that keeps the unread count exact."""
        if self.pk is None:
            raise ValueError(f"{self} can't be deleted because its id attribute is set to None.")
        using = using or router.db_for_write(type(self), instance=self)
        result = type(self).objects.using(using).filter(pk=self.pk).delete()
        self.pk = None
        return result


class Preference(models.Model):
    """A user's choice for one channel of one category, over the category's default.

    ``category`` is a declared category's key, or ``"*"`` for a switch over every category (the email
    unsubscribe link sets it): a channel is on for a user when that switch is not off and the
    category's own choice (or default) is on. notifications/preferences.py reads and writes them.
    """

    EVERY_CATEGORY = "*"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_preferences",
        verbose_name=_("user"),
    )
    category = models.CharField(_("category"), max_length=CATEGORY_MAX_LENGTH)
    channel = models.CharField(_("channel"), max_length=32)
    enabled = models.BooleanField(_("enabled"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "category", "channel"], name="notifications_unique_preference"
            ),
        ]
        # wanted() for a large audience reads the users who differ from a default, not each user.
        indexes = [
            models.Index(
                fields=["category", "channel", "enabled"], name="notifications_pref_choice_idx"
            )
        ]

    def __str__(self) -> str:
        state = "on" if self.enabled else "off"
        return f"{self.channel} {state} for {self.category} of user {self.user_id}"


class PendingEmail(models.Model):
    """A notification waiting for its recipient's email digest.

    Written after commit by the email backend for the recipients who want email for its category. A
    digest run claims the due rows with its own token in one UPDATE (a row claimed by another run is
    skipped), emails them, then deletes them: each notification is emailed at most once.
    """

    notification = models.OneToOneField(
        Notification, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    # The notification's: a claim filters on this table's columns only, so that PostgreSQL re-checks
    # `claim = ''` on a row another run claimed meanwhile (a condition through a join is not re-checked).
    created_at = models.DateTimeField()
    # "" until a digest run claims the row with its own token.
    claim = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        verbose_name = _("pending email")
        verbose_name_plural = _("pending emails")
        indexes = [models.Index(fields=["claim", "created_at"], name="notifications_pending_idx")]

    def __str__(self) -> str:
        return f"notification {self.notification_id} for user {self.recipient_id}"


class PushSubscription(models.Model):
    """One browser's Web Push subscription (``PushSubscription.toJSON()``), owned by one user."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="push_subscriptions",
        verbose_name=_("user"),
    )
    endpoint = models.CharField(_("endpoint"), max_length=PUSH_ENDPOINT_MAX_LENGTH, unique=True)
    p256dh = models.CharField(_("p256dh key"), max_length=128)
    auth = models.CharField(_("auth secret"), max_length=64)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    last_failure_at = models.DateTimeField(_("last failure"), null=True, blank=True)
    success_count = models.PositiveIntegerField(_("pushes delivered"), default=0)
    failure_count = models.PositiveIntegerField(_("pushes failed"), default=0)
    last_error = models.CharField(_("last error"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"{self.browser} push subscription of user {self.user_id}"

    @property
    def browser(self) -> str:
        """The browser's name, from the user agent that registered the subscription."""
        ua = self.user_agent
        # Order matters: Edge and Opera also say "Chrome", and Chrome also says "Safari".
        for marker, name in (
            ("Edg/", "Edge"),
            ("OPR/", "Opera"),
            ("Firefox/", "Firefox"),
            ("Chrome/", "Chrome"),
            ("Chromium/", "Chromium"),
            ("Safari/", "Safari"),
        ):
            if marker in ua:
                return name
        return "Unknown browser"

    def subscription_info(self) -> dict[str, Any]:
        """The subscription as the browser gave it (what pywebpush encrypts for)."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


class Presence(models.Model):
    """How many sockets one server process holds for one user (notifications.presence).

    Each process refreshes ``heartbeat`` on its rows; rows of a process that died stop being counted
    when their heartbeat is older than ``presence.EXPIRY``.
    """

    process = models.CharField(max_length=64)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    sockets = models.PositiveIntegerField()
    heartbeat = models.DateTimeField()

    class Meta:
        verbose_name = _("presence")
        verbose_name_plural = _("presence")
        constraints = [
            models.UniqueConstraint(
                fields=["process", "user"], name="notifications_presence_process_user"
            ),
        ]
        indexes = [models.Index(fields=["heartbeat"], name="notifications_presence_hb_idx")]

    def __str__(self) -> str:
        return f"user {self.user_id}: {self.sockets} socket(s) in {self.process}"
