"""Per-user preferences: which channels (in_app, push, email) each user wants for each category.

Categories and their defaults are declared in ``NOTIFICATIONS["CATEGORIES"]``; a ``Preference`` row is a
user's choice over a default. A category that is not declared is always on, except where the user
turned a channel off for every category (the ``"*"`` switch, which the email unsubscribe link sets).

Delivery asks ``wanted(user_pks, category, channel)``: one query whatever the number of users.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from notifications.conf import app_settings
from notifications.constants import CHANNELS, EMAIL, IN_APP
from notifications.exceptions import InvalidPreferences
from notifications.models import Preference

__all__ = [
    "as_dict",
    "filter_users",
    "in_app_recipients",
    "in_app_users",
    "unsubscribe_email",
    "update",
    "wanted",
    "wanting_sql",
]

EVERY = Preference.EVERY_CATEGORY


def _default(category: str, channel: str) -> bool | None:
    """The declared default, or None when the category is not declared (always on)."""
    declared = app_settings.CATEGORIES.get(category)
    return None if declared is None else declared.default(channel)


def _differing(category: str, channel: str) -> QuerySet[Preference]:
    """The choices that make a user differ from the defaults for this category and channel."""
    differs = Q(category=EVERY, enabled=False)
    default = _default(category, channel)
    if default is not None:
        differs |= Q(category=category, enabled=not default)
    return Preference.objects.filter(differs, channel=channel)


def wanted(user_pks: Iterable[Any], category: str, channel: str) -> set[Any]:
    """The users among ``user_pks`` who want ``channel`` for ``category``: one query.

    A small audience is looked up by user; a large one reads only the users who changed a default
    (few, usually), so the query never carries thousands of parameters.
    """
    pks = set(user_pks)
    if not pks:
        return set()
    rows = _differing(category, channel)
    if len(pks) <= app_settings.BATCH_SIZE:
        rows = rows.filter(user_id__in=pks)
    off_everywhere: set[Any] = set()
    flipped: set[Any] = set()
    for user_pk, row_category in rows.values_list("user_id", "category"):
        (off_everywhere if row_category == EVERY else flipped).add(user_pk)
    if _default(category, channel) is False:
        return (pks & flipped) - off_everywhere
    return pks - flipped - off_everywhere


def in_app_recipients(user_pks: list[Any], category: str) -> list[Any]:
    """``user_pks`` in their order, without the users who turned ``in_app`` off for ``category``."""
    keep = wanted(user_pks, category, IN_APP)
    return [pk for pk in user_pks if pk in keep]


def in_app_users(users: QuerySet[Any], category: str) -> QuerySet[Any]:
    """``users`` without those who turned ``in_app`` off for ``category`` (no query run here)."""
    return filter_users(users, category, IN_APP)


def filter_users(users: QuerySet[Any], category: str, channel: str) -> QuerySet[Any]:
    """``users`` without those who do not want ``channel`` for ``category`` (subqueries, no query).

    Correlated (``[NOT] EXISTS`` on the user's own rows, through the unique index that starts with
    the user): the cost follows the users asked about, not the size of the preferences table.
    """
    rows = _differing(category, channel).filter(user_id=OuterRef("pk"))
    if _default(category, channel) is False:
        return users.filter(Exists(rows.filter(category=category))).exclude(
            Exists(rows.filter(category=EVERY))
        )
    return users.exclude(Exists(rows))


def wanting_sql(category: str, channel: str, using: str) -> tuple[str, list[Any]]:
    """A condition on the user table (unaliased), true for the users who want ``channel`` for ``category``.

    filter_users()'s rule compiled once per (database, category, channel, default): the fan-out puts it
    in its own statements, so choosing the recipients costs no statement and no ORM work of its own.
    """
    return _wanting_sql(using, category, channel, _default(category, channel))


@lru_cache(maxsize=256)
def _wanting_sql(
    using: str, category: str, channel: str, default: bool | None
) -> tuple[str, list[Any]]:
    query = filter_users(
        get_user_model()._default_manager.using(using).all(), category, channel
    ).query
    sql, params = query.get_compiler(using=using).compile(query.where)
    return sql, list(params)


def as_dict(user: Any) -> dict[str, Any]:
    """The user's preferences as the JSON API shows them.

    ``{"categories": {key: {"label", "in_app", "push", "email"}}, "channels": {"in_app", ...}}``:
    ``channels`` are the switches over every category, declared or not.
    """
    chosen = {
        (category, channel): enabled
        for category, channel, enabled in Preference.objects.filter(user_id=user.pk).values_list(
            "category", "channel", "enabled"
        )
    }
    categories = {
        key: {
            "label": declared.label,
            **{ch: chosen.get((key, ch), declared.default(ch)) for ch in CHANNELS},
        }
        for key, declared in app_settings.CATEGORIES.items()
    }
    return {
        "categories": categories,
        "channels": {ch: chosen.get((EVERY, ch), True) for ch in CHANNELS},
    }


def _choices(body: object) -> list[tuple[str, str, bool]]:
    """Validate a (partial) body like as_dict()'s; return (category, channel, enabled) to store."""
    if not isinstance(body, dict):
        raise InvalidPreferences('The body must be a JSON object: {"categories": {...}}.')
    unknown = sorted(set(body) - {"categories", "channels"})
    if unknown:
        raise InvalidPreferences(
            f'Unknown key(s) {", ".join(map(repr, unknown))}: use "categories" and "channels".'
        )
    found: list[tuple[str, str, bool]] = []
    categories = body.get("categories", {})
    if not isinstance(categories, dict):
        raise InvalidPreferences('"categories" must be an object: {"<key>": {"email": false}}.')
    declared = app_settings.CATEGORIES
    for key, channels in categories.items():
        if key not in declared:
            known = ", ".join(map(repr, declared)) or "none are declared"
            raise InvalidPreferences(f"Unknown category {key!r} (known: {known}).")
        found += _channel_choices(key, channels, f'"categories"[{key!r}]')
    found += _channel_choices(EVERY, body.get("channels", {}), '"channels"')
    return found


def _channel_choices(category: str, channels: object, where: str) -> list[tuple[str, str, bool]]:
    if not isinstance(channels, dict):
        raise InvalidPreferences(f'{where} must be an object such as {{"email": false}}.')
    found = []
    for channel, enabled in channels.items():
        if channel == "label" and category != EVERY:
            continue  # read-only: a client may send back what it read
        if channel not in CHANNELS:
            raise InvalidPreferences(
                f"{where} has an unknown channel {channel!r} (channels: {', '.join(CHANNELS)})."
            )
        if not isinstance(enabled, bool):
            raise InvalidPreferences(f"{where}[{channel!r}] must be true or false.")
        found.append((category, channel, enabled))
    return found


def update(user: Any, body: object) -> None:
    """Store the choices of a (partial) body shaped like as_dict()'s; all or nothing.

    Raises InvalidPreferences with a message for the user, and changes nothing, on any bad value.
    """
    _store(user, _choices(body))


def _store(user: Any, choices: list[tuple[str, str, bool]]) -> None:
    if not choices:
        return
    now = timezone.now()
    Preference.objects.bulk_create(
        [
            Preference(user_id=user.pk, category=c, channel=ch, enabled=on, updated_at=now)
            for c, ch, on in choices
        ],
        update_conflicts=True,
        unique_fields=["user", "category", "channel"],
        update_fields=["enabled", "updated_at"],
    )


def unsubscribe_email(user: Any) -> None:
    """Turn email off for every category of the user (the unsubscribe link)."""
    _store(user, [(EVERY, EMAIL, False)])
