"""What a notification says and refers to: the one spec of notify()'s fields, and their validation.

``NotificationFields`` lists notify()'s keyword arguments and their types; ``clean()`` checks them once
and turns them into the Notification's column values. notify(), notify_many(), the rules, the admin
form and the django-notifications-hq receiver all go through it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypedDict

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils.functional import Promise

from notifications import constants, protocol
from notifications.conf import app_settings
from notifications.constants import Level
from notifications.exceptions import InvalidNotification


class NotificationFields(TypedDict, total=False):
    """notify()'s keyword arguments after ``verb``: all optional; their defaults are in clean()."""

    actor: models.Model | None
    target: models.Model | None
    action_object: models.Model | None
    title: str
    body: str
    url: str
    level: str
    category: str
    data: Any
    group_key: str


#: notify()'s keyword arguments after ``verb``.
KEYWORDS: tuple[str, ...] = tuple(NotificationFields.__annotations__)
#: Every field a caller may give, ``verb`` first.
FIELDS: tuple[str, ...] = ("verb", *KEYWORDS)
#: The fields that point at another model instance (each stored as type, id and display text).
RELATED: tuple[str, ...] = ("actor", "target", "action_object")
#: The fields stored as they are: the columns an admin form can edit.
VALUES: tuple[str, ...] = tuple(name for name in FIELDS if name not in RELATED)


def clean(verb: Any, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validate notify()'s arguments; return the Notification's column values. Raises on bad input."""
    unknown = sorted(set(fields) - set(KEYWORDS))
    if unknown:
        # What Python itself raises for an unknown keyword argument.
        raise TypeError(f"notify() got unexpected keyword argument(s): {', '.join(unknown)}.")
    level = fields.get("level", Level.INFO)
    if level not in Level.values:
        raise InvalidNotification(f"level must be one of {', '.join(Level.values)}, not {level!r}.")
    category = _text("category", fields.get("category", ""), constants.CATEGORY_MAX_LENGTH)
    if category and not constants.is_category_key(category):
        raise InvalidNotification(
            "category must be a short key of ASCII letters, digits, '_', '.', ':' or '-'."
        )
    group_key = _text("group_key", fields.get("group_key", ""), constants.GROUP_KEY_MAX_LENGTH)
    if group_key and not constants.is_group_key(group_key):
        raise InvalidNotification(
            "group_key must be a short key of ASCII letters, digits, '_', '.', ':' or '-'."
        )
    data = fields.get("data")
    try:
        # Stored and sent as plain JSON: what the client gets is exactly what was stored.
        data = json.loads(json.dumps({} if data is None else data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidNotification(f"data must be JSON-serializable: {exc}") from None
    columns = {
        "verb": _text("verb", verb, constants.VERB_MAX_LENGTH, required=True),
        "title": _text("title", fields.get("title", ""), constants.TITLE_MAX_LENGTH),
        "body": _text("body", fields.get("body", ""), None),
        "url": clean_url(fields.get("url", "")),
        "level": str(level),
        "category": category,
        "data": data,
        "group_key": group_key,
    }
    for name in RELATED:
        columns.update(_related(name, fields.get(name)))
    if group_key and "actor" in columns:
        columns["actors"] = [actor_entry(columns["actor"], columns["actor_display"])]
    return columns


def actor_entry(actor: models.Model, display: str) -> dict[str, str]:
    """One entry of a grouped notification's ``actors``: the protocol's ``{"id", "display"}``."""
    return {"id": str(actor.pk), "display": display}


def merge_actors(actors: Any, newest: list[dict[str, str]]) -> list[dict[str, str]]:
    """A group's actors after one more event by ``newest`` (0 or 1 entry): newest first, each once."""
    if not newest:
        return list(actors or [])
    ids = {entry["id"] for entry in newest}
    older = [a for a in actors or [] if isinstance(a, dict) and a.get("id") not in ids]
    return (newest + older)[: constants.GROUP_ACTORS]


def clean_url(url: Any) -> str:
    """Accept "", a path starting with "/", or an http(s) URL; anything else is refused."""
    if isinstance(url, Promise):  # reverse_lazy()
        url = str(url)
    if not isinstance(url, str):
        raise InvalidNotification("url must be a string.")
    if not url:
        return ""
    if len(url) > constants.URL_MAX_LENGTH:
        raise InvalidNotification(f"url is longer than {constants.URL_MAX_LENGTH} characters.")
    if "\\" in url or any(ch.isspace() or ord(ch) < 32 or 127 <= ord(ch) <= 159 for ch in url):
        raise InvalidNotification("url must not contain whitespace, control characters or '\\'.")
    if url.startswith("/"):
        if url.startswith("//"):
            raise InvalidNotification("url must not be protocol-relative ('//host').")
        return url
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise InvalidNotification(
            f"url must be a relative path starting with '/' or an http(s) URL, not {url!r}."
        ) from None
    return url


def clean_ids(ids: Any) -> list[int]:
    """Validate a list of notification ids (as the API functions take them)."""
    if isinstance(ids, int) and not isinstance(ids, bool):
        ids = [ids]
    try:
        return list(protocol.parse_ids(list(ids), max_ids=app_settings.MAX_IDS))
    except (TypeError, protocol.ProtocolError) as exc:
        raise InvalidNotification(
            f"ids must be a list of 1 to {app_settings.MAX_IDS} notification ids."
        ) from exc


def _text(name: str, value: Any, max_length: int | None, *, required: bool = False) -> str:
    if isinstance(value, Promise):  # gettext_lazy(): stored in the language active now
        value = str(value)
    if not isinstance(value, str):
        raise InvalidNotification(f"{name} must be a string, not {type(value).__name__}.")
    if required and not value.strip():
        raise InvalidNotification(f"{name} must not be empty.")
    if max_length is not None and len(value) > max_length:
        raise InvalidNotification(f"{name} is longer than {max_length} characters.")
    return value


def _related(name: str, obj: models.Model | None) -> dict[str, Any]:
    if obj is None:
        return {}
    if not isinstance(obj, models.Model) or obj.pk is None or obj._state.adding:
        raise InvalidNotification(f"{name} must be a saved model instance, not {obj!r}.")
    return {name: obj, f"{name}_display": str(obj)[: constants.DISPLAY_MAX_LENGTH]}
