"""The querysets of the inbox's models, and the one place their counts are kept exact.

``InboxStateQuerySet`` locks inbox rows and adjusts their unread and unseen counts
(``InboxState.objects.lock()`` / ``add_unread()`` / ``add_counts()``), in the transaction of the change;
every deletion (the api's, the admin's, ``QuerySet.delete()``, ``Notification.delete()``) goes through
``NotificationQuerySet.delete_counted()``. The models that use them are in models.py.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from django.db import models, transaction
from django.db.models import F

from notifications.compat.mixins import HqQuerySetMixin

if TYPE_CHECKING:  # named by the base classes' QuerySet["..."], which ruff does not read
    from notifications.models import InboxState, Notification  # noqa: F401


class InboxStateQuerySet(models.QuerySet["InboxState"]):
    """The one place that locks inbox rows and adjusts unread counts.

    (Creating a notification advances seq and the unread count in fanout.py's upsert, which locks
    the rows it writes in the same pk order.)
    """

    def lock(self, user_ids: Any) -> dict[Any, int]:
        """Lock the inbox rows of these users in pk order; return their unread counts.

        Every writer locks in pk order, so concurrent changes serialise per user and never deadlock,
        and the counts read under the lock stay exact until the transaction ends.
        """
        return dict(
            self.select_for_update()
            .filter(user_id__in=user_ids)
            .order_by("pk")
            .values_list("pk", "unread_count")
        )

    def add_unread(self, deltas: Mapping[Any, int]) -> None:
        """Add each user's delta to the unread count: one UPDATE per distinct delta (usually one)."""
        by_delta: dict[int, list[Any]] = {}
        for user_id, delta in deltas.items():
            if delta:
                by_delta.setdefault(delta, []).append(user_id)
        for delta, user_ids in by_delta.items():
            self.filter(user_id__in=user_ids).update(unread_count=F("unread_count") + delta)

    def add_counts(self, user_ids: Collection[Any], unread: int, unseen: int) -> None:
        """Add to these locked users' unread and unseen counts (one UPDATE, none when both are 0)."""
        if user_ids and (unread or unseen):
            self.filter(user_id__in=user_ids).update(
                unread_count=F("unread_count") + unread, unseen_count=F("unseen_count") + unseen
            )


class NotificationQuerySet(HqQuerySetMixin, models.QuerySet["Notification"]):
    def for_user(self, user: Any) -> NotificationQuerySet:
        return self.filter(recipient_id=user.pk)

    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)

    def read(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=False)

    def inbox(self) -> NotificationQuerySet:
        """Neither archived nor snoozed: what the inbox shows and its counts count."""
        return self.filter(archived_at__isnull=True, snoozed_until__isnull=True)

    def archived(self) -> NotificationQuerySet:
        return self.filter(archived_at__isnull=False)

    def snoozed(self) -> NotificationQuerySet:
        return self.filter(snoozed_until__isnull=False)

    def delete(self) -> tuple[int, dict[str, int]]:
        """Delete, and take the unread ones off their recipients' unread counts."""
        return self.delete_counted()[0]

    delete.alters_data = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]

    def delete_counted(self) -> tuple[tuple[int, dict[str, int]], dict[Any, int]]:
        """The one delete path: delete() and, per recipient, the unread count left afterwards."""
        # Imported here: models.py imports this module to build the managers.
        from notifications.models import InboxState

        inboxes = InboxState.objects.using(self.db)
        with transaction.atomic(using=self.db):
            # Locked first: no read-state change can interleave, so the counts stay exact.
            counts = inboxes.lock(self.values("recipient_id"))
            counted = self.inbox()
            unread = _per_recipient(counted.filter(read_at__isnull=True))
            unseen = _per_recipient(counted.filter(seen_at__isnull=True))
            result = super().delete()
            inboxes.add_unread({user_id: -n for user_id, n in unread.items()})
            for user_id, n in unseen.items():
                inboxes.filter(user_id=user_id).update(unseen_count=F("unseen_count") - n)
        return result, {user_id: n - unread.get(user_id, 0) for user_id, n in counts.items()}

    delete_counted.alters_data = True  # type: ignore[attr-defined]
    delete_counted.queryset_only = True  # type: ignore[attr-defined]


def _per_recipient(notifications: NotificationQuerySet) -> dict[Any, int]:
    """How many of these notifications each recipient has (recipients with none left out)."""
    return dict(
        notifications.order_by()
        .values_list("recipient_id")
        .annotate(n=models.Count("pk"))
        .values_list("recipient_id", "n")
    )
