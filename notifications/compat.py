"""django-notifications-hq compatibility: the receiver of ``notifications.signals.notify``.

Connected in AppConfig.ready(). It maps hq's arguments onto notify(): see
docs/migrating-from-django-notifications-hq.md.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from notifications.constants import TITLE_MAX_LENGTH, Level
from notifications.exceptions import InvalidNotification
from notifications.models import Notification

# django-notifications-hq >= 1.8 stores levels as integers (NotificationLevel), older ones as strings.
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

# hq arguments with no counterpart here: accepted and ignored.
IGNORED = ("public", "timestamp", "actor_for_concrete_model")
# notify() arguments taken by the same name; hq's others map below (description is our body).
SAME_NAME = ("target", "action_object", "title", "url", "category")


def notify_handler(sender: Any, **kwargs: Any) -> list[Notification]:
    """Create notifications from hq-style ``notify.send(actor, recipient=..., verb=..., ...)``."""
    from notifications.api import notify

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
    fields["level"] = _level(kwargs.pop("level", Level.INFO))
    for name in IGNORED:
        kwargs.pop(name, None)
    fields["data"] = kwargs.pop("data", None)
    if kwargs:
        # hq keeps extra keywords in its `data` JSONField (NOTIFICATIONS_USE_JSONFIELD): so do we.
        fields["data"] = {**(fields["data"] or {}), **kwargs}
    if isinstance(recipient, list | tuple | set):
        recipient = list(recipient)
    fields.setdefault("title", _title(verb, fields))
    return notify(recipient, verb, **fields)


def _level(value: Any) -> str:
    key = value.lower() if isinstance(value, str) else value
    try:
        return HQ_LEVELS[key]
    except (KeyError, TypeError):
        raise InvalidNotification(
            f"level must be one of success, info, warning, error (or 1-4), not {value!r}."
        ) from None


def _title(verb: str, fields: dict[str, Any]) -> str:
    """hq's ``str(notification)`` without the time: "<actor> <verb> <action object> on <target>"."""
    actor, action_object, target = (fields.get(k) for k in ("actor", "action_object", "target"))
    parts = [str(actor)] if actor is not None else []
    parts.append(verb)
    if action_object is not None:
        parts.append(str(action_object))
    if target is not None:
        parts += ["on", str(target)]
    return " ".join(parts)[:TITLE_MAX_LENGTH]
