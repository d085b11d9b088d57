"""The public Python API: create notifications, change their read state, read counts.

Every function runs in the caller's transaction (or its own, in autocommit); live delivery and signals
happen only after commit, never after a rollback, and a failing channel layer never raises here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connections, models, router, transaction
from django.db.models import F
from django.db.models.base import ModelState
from django.db.models.constants import OnConflict
from django.utils import timezone
from django.utils.functional import Promise

from notifications import backends, delivery, preferences, protocol, signals
from notifications.conf import app_settings
from notifications.constants import (
    CATEGORY_MAX_LENGTH,
    DISPLAY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    URL_MAX_LENGTH,
    VERB_MAX_LENGTH,
    Level,
)
from notifications.exceptions import InvalidNotification, InvalidRecipients, NotificationNotFound
from notifications.models import InboxState, Notification

__all__ = [
    "adelete",
    "amark_all_read",
    "amark_read",
    "anotify",
    "aunread_count",
    "delete",
    "mark_all_read",
    "mark_read",
    "mark_unread",
    "notify",
    "unread_count",
]

Recipients = AbstractBaseUser | Iterable[AbstractBaseUser] | models.QuerySet[Any] | Group


def notify(
    recipients: Recipients,
    verb: str,
    *,
    actor: models.Model | None = None,
    target: models.Model | None = None,
    action_object: models.Model | None = None,
    title: str = "",
    body: str = "",
    url: str = "",
    level: str = Level.INFO,
    category: str = "",
    data: Any = None,
) -> list[Notification]:
    """Create one notification per recipient; deliver them live after commit."""
    fields = _notification_fields(
        verb=verb,
        actor=actor,
        target=target,
        action_object=action_object,
        title=title,
        body=body,
        url=url,
        level=level,
        category=category,
        data=data,
    )
    # Preferences (issue 10): a user who turned in_app off for this category gets no row, nothing live.
    user_pks = preferences.in_app_recipients(_recipient_pks(recipients), fields["category"])
    if not user_pks:
        return []
    using = router.db_for_write(Notification)
    created: list[Notification] = []
    batch = max(1, int(app_settings.BATCH_SIZE))
    with transaction.atomic(using=using):
        for start in range(0, len(user_pks), batch):
            created += _insert_select(user_pks[start : start + batch], fields, using)
        # In the order the recipients were given, whatever order the database returned them in.
        order = {pk: i for i, pk in enumerate(user_pks)}
        created.sort(key=lambda n: order[n.recipient_id])
        transaction.on_commit(lambda: _created(created), using=using, robust=True)
    return created


def _created(notifications: list[Notification]) -> None:
    backends.deliver(notifications)  # Delivery channels (issue 10): live, push, email ...
    signals.notification_created.send(sender=Notification, notifications=notifications)


def _recipient_pks(recipients: Any) -> list[Any]:
    user_model = get_user_model()
    if isinstance(recipients, Group):
        qs = user_model._default_manager.filter(groups=recipients, is_active=True)
        return list(qs.order_by("pk").values_list("pk", flat=True))
    if isinstance(recipients, models.QuerySet):
        if not issubclass(recipients.model, user_model):
            raise InvalidRecipients(
                f"A QuerySet of recipients must be of {user_model.__name__}, "
                f"not {recipients.model.__name__}."
            )
        if recipients.query.is_sliced:  # cannot be reordered: dedupe here instead
            return list(dict.fromkeys(recipients.values_list("pk", flat=True)))
        return list(recipients.order_by().values_list("pk", flat=True).distinct())
    if isinstance(recipients, user_model):
        recipients = [recipients]
    if isinstance(recipients, str | bytes) or not isinstance(recipients, Iterable):
        raise InvalidRecipients(
            "recipients must be a user, an iterable of users, a user QuerySet or an auth Group, "
            f"not {type(recipients).__name__}."
        )
    pks: dict[Any, None] = {}
    for user in recipients:
        if isinstance(user, AnonymousUser) or not isinstance(user, user_model):
            raise InvalidRecipients(
                f"Every recipient must be a saved {user_model.__name__}, not {user!r}."
            )
        if user.pk is None or user._state.adding:  # a UUID pk is set before the first save
            raise InvalidRecipients(f"Recipient {user!r} is not saved.")
        pks[user.pk] = None
    return list(pks)


def _related_fields(name: str, obj: models.Model | None) -> dict[str, Any]:
    if obj is None:
        return {}
    if not isinstance(obj, models.Model) or obj.pk is None or obj._state.adding:
        raise InvalidNotification(f"{name} must be a saved model instance, not {obj!r}.")
    return {name: obj, f"{name}_display": str(obj)[:DISPLAY_MAX_LENGTH]}


def clean_url(url: Any) -> str:
    """Accept "", a path starting with "/", or an http(s) URL; anything else is refused."""
    if isinstance(url, Promise):  # reverse_lazy()
        url = str(url)
    if not isinstance(url, str):
        raise InvalidNotification("url must be a string.")
    if not url:
        return ""
    if len(url) > URL_MAX_LENGTH:
        raise InvalidNotification(f"url is longer than {URL_MAX_LENGTH} characters.")
    if "\\" in url or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
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


def _clean_text(name: str, value: Any, max_length: int | None, *, required: bool = False) -> str:
    if isinstance(value, Promise):  # gettext_lazy(): stored in the language active now
        value = str(value)
    if not isinstance(value, str):
        raise InvalidNotification(f"{name} must be a string, not {type(value).__name__}.")
    if required and not value.strip():
        raise InvalidNotification(f"{name} must not be empty.")
    if max_length is not None and len(value) > max_length:
        raise InvalidNotification(f"{name} is longer than {max_length} characters.")
    return value


def _notification_fields(
    *,
    verb: Any,
    actor: Any,
    target: Any,
    action_object: Any,
    title: Any,
    body: Any,
    url: Any,
    level: Any,
    category: Any,
    data: Any,
) -> dict[str, Any]:
    if level not in Level.values:
        raise InvalidNotification(f"level must be one of {', '.join(Level.values)}, not {level!r}.")
    category = _clean_text("category", category, CATEGORY_MAX_LENGTH)
    if category and not all(ch.isascii() and (ch.isalnum() or ch in "_.:-") for ch in category):
        raise InvalidNotification(
            "category must be a short key of ASCII letters, digits, '_', '.', ':' or '-'."
        )
    try:
        # Stored and sent as plain JSON: what the client gets is exactly what was stored.
        data = json.loads(json.dumps({} if data is None else data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidNotification(f"data must be JSON-serializable: {exc}") from None
    return {
        "verb": _clean_text("verb", verb, VERB_MAX_LENGTH, required=True),
        "title": _clean_text("title", title, TITLE_MAX_LENGTH),
        "body": _clean_text("body", body, None),
        "url": clean_url(url),
        "level": str(level),
        "category": category,
        "data": data,
        **_related_fields("actor", actor),
        **_related_fields("target", target),
        **_related_fields("action_object", action_object),
    }


# Read state. Each change locks the user's inbox row first, so the unread count stays exact.


def clean_ids(ids: Any) -> list[int]:
    """Validate a list of notification ids (as the API functions take them)."""
    if isinstance(ids, int) and not isinstance(ids, bool):
        ids = [ids]
    try:
        return list(protocol.parse_ids(list(ids), max_ids=int(app_settings.MAX_IDS)))
    except (TypeError, protocol.ProtocolError) as exc:
        raise InvalidNotification(
            f"ids must be a list of 1 to {app_settings.MAX_IDS} notification ids."
        ) from exc


def _locked_state(user: Any, using: str) -> InboxState:
    if not getattr(user, "is_authenticated", False) or user.pk is None:
        # Not an IntegrityError that would break the caller's transaction.
        raise InvalidRecipients(f"user must be a saved user, not {user!r}.")
    InboxState.objects.using(using).get_or_create(user_id=user.pk)
    return InboxState.objects.using(using).select_for_update().get(user_id=user.pk)


def _owned(user: Any, ids: list[int], using: str) -> dict[int, Any]:
    owned = dict(
        Notification.objects.using(using)
        .filter(recipient_id=user.pk, pk__in=ids)
        .values_list("pk", "read_at")
    )
    missing = [pk for pk in ids if pk not in owned]
    if missing:
        raise NotificationNotFound(missing)
    return owned


def _after_commit(user: Any, kind: str, ids: list[int], unread: int, using: str) -> None:
    signal = {
        protocol.READ: signals.notifications_read,
        protocol.UNREAD: signals.notifications_unread,
        protocol.DELETED: signals.notifications_deleted,
    }[kind]

    def publish() -> None:
        delivery.send(delivery.frame_messages({user.pk: protocol.ids_frame(kind, ids, unread)}))
        signal.send(sender=Notification, user=user, ids=ids)

    transaction.on_commit(publish, using=using, robust=True)


def _set_read(user: Any, ids: list[int] | None, *, read: bool) -> list[int]:
    using = router.db_for_write(Notification)
    with transaction.atomic(using=using):
        state = _locked_state(user, using)
        if ids is None:
            changed = list(
                Notification.objects.using(using)
                .filter(recipient_id=user.pk, read_at__isnull=True)
                .order_by("seq")
                .values_list("pk", flat=True)
            )
        else:
            owned = _owned(user, ids, using)
            changed = [pk for pk in ids if (owned[pk] is None) == read]
        if not changed:
            return []
        Notification.objects.using(using).filter(pk__in=changed).update(
            read_at=timezone.now() if read else None
        )
        delta = -len(changed) if read else len(changed)
        state.unread_count += delta
        InboxState.objects.using(using).filter(pk=state.pk).update(
            unread_count=F("unread_count") + delta
        )
        _after_commit(
            user, protocol.READ if read else protocol.UNREAD, changed, state.unread_count, using
        )
    return changed


def mark_read(user: Any, ids: Any) -> list[int]:
    """Mark the user's notifications read; return the ids that changed. Foreign ids raise."""
    return _set_read(user, clean_ids(ids), read=True)


def mark_unread(user: Any, ids: Any) -> list[int]:
    """Mark the user's notifications unread again; return the ids that changed."""
    return _set_read(user, clean_ids(ids), read=False)


def mark_all_read(user: Any) -> list[int]:
    """Mark every unread notification of the user read; return their ids."""
    return _set_read(user, None, read=True)


def delete(user: Any, ids: Any) -> list[int]:
    """Delete the user's notifications; return the ids deleted. Foreign ids raise."""
    wanted = clean_ids(ids)
    using = router.db_for_write(Notification)
    with transaction.atomic(using=using):
        state = _locked_state(user, using)
        owned = _owned(user, wanted, using)
        unread = sum(1 for read_at in owned.values() if read_at is None)
        # QuerySet.delete() takes the unread ones off the count in the same transaction.
        Notification.objects.using(using).filter(pk__in=wanted).delete()
        _after_commit(user, protocol.DELETED, wanted, state.unread_count - unread, using)
    return wanted


def unread_count(user: Any) -> int:
    """The user's unread count: one primary-key lookup, no COUNT."""
    return inbox(user)[0]


def inbox(user: Any) -> tuple[int, int]:
    """(unread_count, last_seq) of the user."""
    if user is None or not getattr(user, "is_authenticated", False):
        return (0, 0)
    row = InboxState.objects.filter(user_id=user.pk).values_list("unread_count", "last_seq").first()
    return row or (0, 0)


def since(user: Any, seq: int, limit: int) -> list[Notification]:
    """The user's notifications with a seq above `seq`, oldest first, at most `limit`."""
    return list(
        Notification.objects.filter(recipient_id=user.pk, seq__gt=seq).order_by("seq")[:limit]
    )


anotify = sync_to_async(notify)
amark_read = sync_to_async(mark_read)
amark_all_read = sync_to_async(mark_all_read)
adelete = sync_to_async(delete)
aunread_count = sync_to_async(unread_count)


# Large audiences and large deletions: batches, each committed on its own, with bounded memory.


def _audience(recipients: Recipients) -> models.QuerySet[Any]:
    user_model = get_user_model()
    if isinstance(recipients, Group):
        return user_model._default_manager.filter(groups=recipients, is_active=True)
    if isinstance(recipients, models.QuerySet):
        if not issubclass(recipients.model, user_model):
            raise InvalidRecipients(f"A QuerySet of recipients must be of {user_model.__name__}.")
        return recipients
    return user_model._default_manager.filter(pk__in=_recipient_pks(recipients))


def notify_many(
    recipients: Recipients,
    verb: str,
    *,
    batch_size: int | None = None,
    **kwargs: Any,
) -> int:
    """Like notify() for a large audience: batches committed one by one; return how many were notified.

    Only one batch of rows is held at a time (called inside a transaction, the live pushes wait for
    its commit). ``kwargs`` are notify()'s: actor, target, title, body, url, level, category, data ...
    """
    fields = _notification_fields(verb=verb, **{**_NOTIFY_DEFAULTS, **kwargs})
    batch = max(1, int(batch_size or app_settings.BATCH_SIZE))
    # Preferences (issue 10): users who turned in_app off for this category are left out.
    users = preferences.in_app_users(_audience(recipients), fields["category"]).order_by("pk")
    using = router.db_for_write(Notification)
    total, last = 0, None
    while True:
        page = users if last is None else users.filter(pk__gt=last)
        pks = list(page.values_list("pk", flat=True).distinct()[:batch])
        if not pks:
            return total
        with transaction.atomic(using=using):
            created = _insert_select(pks, fields, using)
            transaction.on_commit(lambda c=created: _created(c), using=using, robust=True)  # type: ignore[misc]
        total, last = total + len(created), pks[-1]
        del created


def _insert_select(
    user_pks: Sequence[Any], fields: dict[str, Any], using: str
) -> list[Notification]:
    """Allocate one seq per user and insert one notification each: a constant number of queries.

    Missing inbox rows are created, then all are locked, both in pk order: concurrent calls serialise
    per user, never deadlock, and each sees the seq the previous one committed. The rows are written
    by INSERT ... SELECT from the locked inbox rows, with no per-row ORM work (a 20,000-user broadcast
    takes 2 s instead of 12 s). The SQL holds quoted names and placeholders only."""
    connection = connections[using]
    qn = connection.ops.quote_name
    user_field = InboxState._meta.get_field("user")
    in_users = ", ".join(["%s"] * len(user_pks))
    user_params = [user_field.get_db_prep_value(pk, connection) for pk in user_pks]
    states = InboxState.objects.using(using)
    user_model = get_user_model()
    inbox_table = qn(InboxState._meta.db_table)

    def column(model: type[models.Model], name: str) -> str:
        return qn(str(model._meta.get_field(name).column))  # type: ignore[union-attr]

    user_id, last_seq = column(InboxState, "user"), column(InboxState, "last_seq")
    unread = column(InboxState, "unread_count")
    user_table, user_pk = qn(user_model._meta.db_table), qn(str(user_model._meta.pk.column))
    n_id, recipient, seq = (column(Notification, f) for f in ("id", "recipient", "seq"))
    ensure_inboxes = (
        f"{connection.ops.insert_statement(on_conflict=OnConflict.IGNORE)} {inbox_table} "  # noqa: S608
        f"({user_id}, {last_seq}, {unread}) "
        f"SELECT {user_pk}, 0, 0 FROM {user_table} WHERE {user_pk} IN ({in_users}) "
        f"ORDER BY {user_pk} "
        + (connection.ops.on_conflict_suffix_sql([], OnConflict.IGNORE, [], []) or "")
    )
    with connection.cursor() as cursor:
        cursor.execute(ensure_inboxes, user_params)
    locked = states.select_for_update().filter(user_id__in=user_pks).order_by("pk")
    list(locked.values_list("pk", flat=True))
    states.filter(user_id__in=user_pks).update(
        last_seq=F("last_seq") + 1, unread_count=F("unread_count") + 1
    )
    template = Notification(created_at=timezone.now(), **fields)
    same = [
        f
        for f in Notification._meta.concrete_fields
        if not f.primary_key and f.attname not in {"recipient_id", "seq"}
    ]
    columns = ", ".join([recipient, seq, *(qn(str(f.column)) for f in same)])
    returning = connection.features.can_return_rows_from_bulk_insert
    sql = (
        f"INSERT INTO {qn(Notification._meta.db_table)} ({columns}) "  # noqa: S608
        f"SELECT {user_id}, {last_seq}, {', '.join(['%s'] * len(same))} "
        f"FROM {inbox_table} WHERE {user_id} IN ({in_users})"
    )
    if returning:
        sql += f" RETURNING {n_id}, {recipient}, {seq}"
    params = [f.get_db_prep_save(getattr(template, f.attname), connection) for f in same]
    with connection.cursor() as cursor:
        cursor.execute(sql, params + user_params)
        rows = cursor.fetchall() if returning else None
    if rows is None:
        # The inbox rows are locked: each user's newest seq is the row just inserted.
        return list(
            Notification.objects.using(using).filter(
                recipient_id__in=user_pks, seq=F("recipient__notification_inbox__last_seq")
            )
        )
    shared = {k: v for k, v in template.__dict__.items() if k != "_state"}
    to_user_pk = user_model._meta.pk.to_python
    created = []
    for pk, recipient_id, seq in rows:
        n = Notification.__new__(Notification)
        n.__dict__.update(shared)
        n._state = ModelState()
        n._state.adding, n._state.db = False, using
        n.pk, n.recipient_id, n.seq = pk, to_user_pk(recipient_id), seq
        created.append(n)
    return created


_NOTIFY_DEFAULTS: dict[str, Any] = {
    "actor": None,
    "target": None,
    "action_object": None,
    "title": "",
    "body": "",
    "url": "",
    "level": Level.INFO,
    "category": "",
    "data": None,
}


def delete_many(
    notifications: models.QuerySet[Notification],
    *,
    batch_size: int | None = None,
    on_batch: Any = None,
) -> int:
    """Delete notifications of any recipients in batches; keep counts exact; push `deleted` frames.

    Returns how many were deleted; ``on_batch(total_so_far)`` is called after each batch.
    """
    batch = max(1, int(batch_size or app_settings.BATCH_SIZE))
    rows_qs = notifications.order_by("pk").values_list("pk", "recipient_id")
    total, last = 0, None
    while True:
        page = rows_qs if last is None else rows_qs.filter(pk__gt=last)
        rows = list(page[:batch])
        if not rows:
            return total
        total += _delete_rows(rows, notifications.db)
        last = rows[-1][0]
        if on_batch is not None:
            on_batch(total)


def _delete_rows(rows: list[tuple[int, Any]], using: str) -> int:
    by_user: dict[Any, list[int]] = {}
    for pk, user_pk in rows:
        by_user.setdefault(user_pk, []).append(pk)
    states = InboxState.objects.using(using)
    with transaction.atomic(using=using):
        # QuerySet.delete() locks the inboxes and takes the unread ones off the counts.
        doomed = Notification.objects.using(using).filter(pk__in=[r[0] for r in rows])
        _, per_model = doomed.delete()
        counts = dict(states.filter(user_id__in=by_user).values_list("user_id", "unread_count"))
        users = get_user_model()._default_manager.using(using).in_bulk(list(by_user))
        frames = {
            pk: protocol.ids_frame(protocol.DELETED, ids, counts.get(pk, 0))
            for pk, ids in by_user.items()
        }

        def publish() -> None:
            delivery.send(delivery.frame_messages(frames))
            for pk, ids in by_user.items():
                if pk in users:
                    signals.notifications_deleted.send(sender=Notification, user=users[pk], ids=ids)

        transaction.on_commit(publish, using=using, robust=True)
    return per_model.get(Notification._meta.label, 0)
