"""django-notifications-hq compatibility: the receiver of ``notifications.signals.notify``.

Connected in AppConfig.ready(). It maps hq's arguments onto notify(): see
docs/migrating-from-django-notifications-hq.md. The rest of hq's API lives next to it: ``mixins``
(``user.notifications.mark_all_as_read()`` ...), ``convert`` (its table into ours, run by the migration
and the ``convert_hq_notifications`` command), ``views.hq`` and the ``notifications_tags`` library.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django.db import models, router, transaction

from notifications.constants import TITLE_MAX_LENGTH, Level
from notifications.exceptions import InvalidNotification

if TYPE_CHECKING:
    from notifications.models import Notification

# django-notifications-hq stores levels as strings; its unreleased 1.9 as integers (NotificationLevel).
HQ_LEVELS: dict[Any, str] = {
    1: Level.SUCCESS,
    2: Level.INFO,
    3: Level.WARNING,
    4: Level.ERROR,
    "success": Level.SUCCESS,
    "info": Level.INFO,
    "warning": Level.WARNING,
    "error": Level.ERROR,
}

#: The key of ``Notification.data`` that keeps hq's flags with no column here (public, deleted,
#: emailed), only where they differ from hq's defaults: ``{"hq": {"public": false}}``.
HQ_KEY = "hq"
#: hq's defaults of those flags.
HQ_FLAGS: dict[str, bool] = {"public": True, "deleted": False, "emailed": False}

# hq arguments with no counterpart here: accepted and ignored.
IGNORED = (
    "actor_for_concrete_model",
    "target_for_concrete_model",
    "action_object_for_concrete_model",
)
# notify() arguments taken by the same name; hq's others map below (description is our body).
SAME_NAME = ("target", "action_object", "title", "url", "category")


def notify_handler(sender: Any, **kwargs: Any) -> list[Notification]:
    """Create notifications from hq-style ``notify.send(actor, recipient=..., verb=..., ...)``."""
    from notifications.api import notify
    from notifications.models import Notification

    kwargs.pop("signal", None)
    if "recipient" not in kwargs:
        raise InvalidNotification("notify.send() needs recipient=.")
    if "verb" not in kwargs:
        raise InvalidNotification("notify.send() needs verb=.")
    recipient = kwargs.pop("recipient")
    verb = str(kwargs.pop("verb"))
    fields = {name: kwargs.pop(name) for name in SAME_NAME if name in kwargs}
    fields["actor"] = sender if isinstance(sender, models.Model) else None
    description = kwargs.pop("description", None)
    fields["body"] = "" if description is None else str(description)
    fields["level"] = hq_level(kwargs.pop("level", Level.INFO))
    timestamp = kwargs.pop("timestamp", None)
    if timestamp is not None and not isinstance(timestamp, datetime.datetime):
        raise InvalidNotification(f"timestamp must be a datetime, not {timestamp!r}.")
    public = bool(kwargs.pop("public", True))
    for name in IGNORED:
        kwargs.pop(name, None)
    fields["data"] = kwargs.pop("data", None)
    if kwargs:
        # hq keeps extra keywords in its `data` JSONField (NOTIFICATIONS_USE_JSONFIELD): so do we.
        fields["data"] = {**(fields["data"] or {}), **kwargs}
    if not public:
        fields["data"] = with_flags(fields["data"], {"public": False})
    if isinstance(recipient, list | tuple | set):
        recipient = list(recipient)
    fields.setdefault(
        "title",
        hq_title(
            *(_display(fields.get(k)) for k in ("actor", "action_object", "target")), verb=verb
        ),
    )
    using = router.db_for_write(Notification)
    with transaction.atomic(using=using):
        created = notify(recipient, verb, **fields)
        if timestamp is not None and created:
            # Before commit: the live push (after commit) reads these same instances.
            Notification.objects.using(using).filter(pk__in=[n.pk for n in created]).update(
                created_at=timestamp
            )
            for n in created:
                n.created_at = timestamp
    return created


def hq_level(value: Any) -> str:
    """Our level of an hq level (a name in any case, or hq 1.9's 1-4); unknown ones raise."""
    key = value.lower() if isinstance(value, str) else value
    try:
        return HQ_LEVELS[key]
    except (KeyError, TypeError):
        raise InvalidNotification(
            f"level must be one of success, info, warning, error (or 1-4), not {value!r}."
        ) from None


def with_flags(data: Any, flags: dict[str, Any]) -> Any:
    """``data`` with hq's flags set under HQ_KEY; a flag at hq's default is left out."""
    if data is None:
        data = {}
    elif not isinstance(data, dict):
        data = {"data": data}  # hq's data may be any JSON; ours needs an object to hold the flags
    kept = {**data.get(HQ_KEY, {}), **flags}
    kept = {name: value for name, value in kept.items() if HQ_FLAGS.get(name) != value}
    result = {k: v for k, v in data.items() if k != HQ_KEY}
    if kept:
        result[HQ_KEY] = kept
    return result


def _display(obj: Any) -> str:
    return "" if obj is None else str(obj)


def hq_title(actor: str, action_object: str, target: str, *, verb: str) -> str:
    """hq's ``str(notification)`` without the time: "<actor> <verb> <action object> on <target>"."""
    parts = [actor, verb]
    if target and action_object:
        parts += [action_object, "on", target]
    else:
        parts.append(target or action_object)
    return " ".join(p for p in parts if p)[:TITLE_MAX_LENGTH]
