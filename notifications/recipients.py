"""Who gets a notification: the one resolver of notify()'s ``recipients``.

``recipients`` is a saved user, an iterable of them, a QuerySet of the user model, or an auth Group,
which means its active members.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.db import models

from notifications.exceptions import InvalidRecipients

Recipients = AbstractBaseUser | Iterable[AbstractBaseUser] | models.QuerySet[Any] | Group


def active_users() -> models.QuerySet[Any]:
    """Every active user."""
    return get_user_model()._default_manager.filter(is_active=True)


def users(recipients: Recipients) -> models.QuerySet[Any]:
    """The recipients as a lazy QuerySet of users (a QuerySet is taken as it is)."""
    if isinstance(recipients, Group):
        return active_users().filter(groups=recipients)
    if isinstance(recipients, models.QuerySet):
        return _of_users(recipients)
    return get_user_model()._default_manager.filter(pk__in=pks(recipients))


def pks(recipients: Recipients) -> list[Any]:
    """The recipients' primary keys, each once, in the order given (a Group's and a QuerySet's: by pk)."""
    if isinstance(recipients, Group):
        return list(users(recipients).order_by("pk").values_list("pk", flat=True))
    if isinstance(recipients, models.QuerySet):
        qs = _of_users(recipients)
        if qs.query.is_sliced:  # cannot be reordered: dedupe here instead
            return list(dict.fromkeys(qs.values_list("pk", flat=True)))
        return list(qs.order_by().values_list("pk", flat=True).distinct())
    return list(dict.fromkeys(user.pk for user in _saved_users(recipients)))


def without(recipients: Recipients, user: Any) -> Recipients:
    """The recipients less ``user``, without a query (a QuerySet stays lazy)."""
    if not isinstance(user, get_user_model()) or user.pk is None:
        return recipients
    if isinstance(recipients, Group | models.QuerySet):
        return users(recipients).exclude(pk=user.pk)
    if isinstance(recipients, get_user_model()):
        return [] if recipients.pk == user.pk else recipients
    if isinstance(recipients, Iterable) and not isinstance(recipients, str | bytes):
        return [u for u in recipients if getattr(u, "pk", None) != user.pk]
    return recipients  # not recipients at all: pks() says so


def by_username(usernames: Sequence[str]) -> list[Any]:
    """The users with these usernames (USERNAME_FIELD), in that order; unknown names raise."""
    field = get_user_model().USERNAME_FIELD
    found = {
        getattr(u, field): u
        for u in get_user_model()._default_manager.filter(**{f"{field}__in": usernames})
    }
    unknown = [name for name in usernames if name not in found]
    if unknown:
        raise InvalidRecipients(f"Unknown user(s): {', '.join(unknown)}.")
    return [found[name] for name in usernames]


def _of_users(qs: models.QuerySet[Any]) -> models.QuerySet[Any]:
    user_model = get_user_model()
    if not issubclass(qs.model, user_model):
        raise InvalidRecipients(
            f"A QuerySet of recipients must be of {user_model.__name__}, not {qs.model.__name__}."
        )
    return qs


def _saved_users(recipients: Any) -> Iterable[Any]:
    user_model = get_user_model()
    if isinstance(recipients, user_model):
        recipients = [recipients]
    if isinstance(recipients, str | bytes) or not isinstance(recipients, Iterable):
        raise InvalidRecipients(
            "recipients must be a user, an iterable of users, a user QuerySet or an auth Group, "
            f"not {type(recipients).__name__}."
        )
    for user in recipients:
        if isinstance(user, AnonymousUser) or not isinstance(user, user_model):
            raise InvalidRecipients(
                f"Every recipient must be a saved {user_model.__name__}, not {user!r}."
            )
        if user.pk is None or user._state.adding:  # a UUID pk is set before the first save
            raise InvalidRecipients(f"Recipient {user!r} is not saved.")
        yield user
