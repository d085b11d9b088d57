"""django-notifications-hq's QuerySet and instance API, mixed into our querysets.py and models.py.

Every change of read state goes through notifications.api (locked inbox rows, exact unread counts,
frames to open sockets); hq's flags without a column here (public, deleted, emailed) live in
``data["hq"]`` (compat.HQ_KEY), written by the conversion and by ``notify.send(public=False)``.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.db.models import Q
from django.utils.timesince import timesince

from notifications.compat import HQ_FLAGS, HQ_KEY, with_flags

if TYPE_CHECKING:
    from notifications.models import Notification
    from notifications.querysets import NotificationQuerySet

#: hq's slugs are the id plus this (notifications.utils.id2slug): its URLs carry them.
SLUG_OFFSET = 110909


def id2slug(notification_id: int) -> int:
    return notification_id + SLUG_OFFSET


def slug2id(slug: int | str) -> int:
    return int(slug) - SLUG_OFFSET


def _flag_lookup(name: str) -> str:
    return f"data__{HQ_KEY}__{name}"


def _not_set(name: str) -> Q:
    # exclude() alone would drop the rows without the key too (NOT NULL is NULL in SQL).
    lookup = _flag_lookup(name)
    return Q(**{f"{lookup}__isnull": True}) | ~Q(**{lookup: True})


class HqQuerySetMixin:
    """hq's ``NotificationQuerySet`` methods, also on ``user.notifications``."""

    def _changed(self, read: bool, recipient: Any) -> int:
        from notifications import api
        from notifications.conf import app_settings

        qs: Any = self
        if recipient is not None:
            qs = qs.filter(recipient_id=recipient.pk)
        by_user: dict[Any, list[int]] = {}
        for user_pk, pk in qs.filter(read_at__isnull=read).values_list("recipient_id", "pk"):
            by_user.setdefault(user_pk, []).append(pk)
        users = get_user_model()._default_manager.in_bulk(list(by_user))
        change = api.mark_read if read else api.mark_unread
        step = app_settings.MAX_IDS
        # Through the api, per recipient: locked inbox rows, exact counts, a frame to each socket.
        return sum(
            len(change(users[user_pk], ids[i : i + step]))
            for user_pk, ids in by_user.items()
            for i in range(0, len(ids), step)
        )

    def mark_all_as_read(self, recipient: Any = None) -> int:
        """Mark the unread ones read (of ``recipient`` only, if given); return how many changed."""
        return self._changed(True, recipient)

    def mark_all_as_unread(self, recipient: Any = None) -> int:
        """Mark the read ones unread (of ``recipient`` only, if given); return how many changed."""
        return self._changed(False, recipient)

    def active(self) -> NotificationQuerySet:
        """Not soft-deleted by hq (every notification created here is active)."""
        qs: Any = self
        return qs.filter(_not_set("deleted"))  # type: ignore[no-any-return]

    def deleted(self) -> NotificationQuerySet:
        """Soft-deleted by hq before the conversion."""
        qs: Any = self
        return qs.filter(**{_flag_lookup("deleted"): True})  # type: ignore[no-any-return]

    def mark_all_as_deleted(self, recipient: Any = None) -> int:
        """hq's soft delete, as a real one: our inbox has no deleted state (counts stay exact)."""
        from notifications import api

        qs: Any = self
        if recipient is not None:
            qs = qs.filter(recipient_id=recipient.pk)
        return api.delete_many(qs)

    def mark_all_as_active(self, recipient: Any = None) -> int:
        """Clear hq's ``deleted`` flag of converted rows (a deletion made here cannot be undone)."""
        return self._set_flag(self.deleted(), "deleted", False, recipient)

    def sent(self) -> NotificationQuerySet:
        """Marked emailed (``mark_as_sent()``)."""
        qs: Any = self
        return qs.filter(**{_flag_lookup("emailed"): True})  # type: ignore[no-any-return]

    def unsent(self) -> NotificationQuerySet:
        qs: Any = self
        return qs.filter(_not_set("emailed"))  # type: ignore[no-any-return]

    def mark_as_sent(self, recipient: Any = None) -> int:
        """Set hq's ``emailed`` flag; return how many changed."""
        return self._set_flag(self.unsent(), "emailed", True, recipient)

    def mark_as_unsent(self, recipient: Any = None) -> int:
        return self._set_flag(self.sent(), "emailed", False, recipient)

    @staticmethod
    def _set_flag(qs: Any, name: str, value: bool, recipient: Any) -> int:
        if recipient is not None:
            qs = qs.filter(recipient_id=recipient.pk)
        # The flag lives in JSON: written row by row, in batches, never touching read state.
        changed = 0
        last = None
        while True:
            page = qs.order_by("pk") if last is None else qs.filter(pk__gt=last).order_by("pk")
            rows = list(page.only("pk", "data")[:1000])
            if not rows:
                return changed
            for n in rows:
                n.data = with_flags(n.data, {name: value})
            type(rows[0]).objects.bulk_update(rows, ["data"])
            changed += len(rows)
            last = rows[-1].pk


class HqNotificationMixin:
    """hq's ``AbstractNotification`` instance API."""

    def _self(self) -> Notification:
        return self  # type: ignore[return-value]

    @property
    def unread(self) -> bool:
        return self._self().read_at is None

    @property
    def description(self) -> str:
        return self._self().body

    @property
    def timestamp(self) -> datetime.datetime:
        return self._self().created_at

    @property
    def slug(self) -> int:
        return id2slug(self._self().pk)

    def _flag(self, name: str) -> bool:
        data = self._self().data
        flags = data.get(HQ_KEY, {}) if isinstance(data, dict) else {}
        return bool(flags.get(name, HQ_FLAGS[name]))

    @property
    def public(self) -> bool:
        return self._flag("public")

    @property
    def deleted(self) -> bool:
        return self._flag("deleted")

    @property
    def emailed(self) -> bool:
        return self._flag("emailed")

    def timesince(self, now: datetime.datetime | None = None) -> str:
        """hq's shortcut: ``django.utils.timesince.timesince(self.timestamp, now)``."""
        return timesince(self._self().created_at, now)

    def naturaltime(self) -> str:
        return str(naturaltime(self._self().created_at))

    def mark_as_read(self) -> None:
        self._mark(read=True)

    def mark_as_unread(self) -> None:
        self._mark(read=False)

    def _mark(self, *, read: bool) -> None:
        from notifications import api

        n = self._self()
        if (n.read_at is None) == read:
            (api.mark_read if read else api.mark_unread)(n.recipient, [n.pk])
            n.read_at = type(n).objects.filter(pk=n.pk).values_list("read_at", flat=True).get()
