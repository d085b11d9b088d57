"""The raw-SQL fan-out: one seq per recipient and one Notification row each, in a constant number of
statements whatever the number of recipients.

Each recipient's inbox row is created or advanced by one upsert (``INSERT ... ON CONFLICT DO UPDATE``,
rows taken in pk order: concurrent calls serialise per user, never deadlock, and each sees the seq the
previous one committed), then the notifications are written by INSERT ... SELECT from the upserted rows,
with no per-row ORM work (a 20,000-user broadcast takes 2 s instead of 12 s). Both happen in the
caller's transaction, so a rollback takes back the seq with the row: seqs stay gapless.

The recipients who turned ``in_app`` off for the category are left out inside those statements (the
rule of preferences.filter_users(), compiled once): no statement of its own. On SQLite both statements
run under the write lock (BEGIN IMMEDIATE), so they see the same preferences and the rows the upsert
advanced are exactly those the INSERT reads; on PostgreSQL it is one statement.

Statements per call: 1 on PostgreSQL (the upsert is a data-modifying CTE of the INSERT), 2 on SQLite
(no data-modifying CTEs). Databases without ``ON CONFLICT ... DO UPDATE`` (MySQL) take 5: read the
preferences, create the missing inbox rows, lock them, advance them, insert; without RETURNING the rows
are read back (+1). The SQL holds quoted names and placeholders only, and is built once per shape
(number of recipients, preference rule), not on every call.

With Web Push on, the INSERT also returns whether each recipient has a push subscription (an EXISTS on
the subscriptions' user index): ``Notification.recipient_has_push``, which spares the push backend a
query of its own after commit, the cost of a single notify() that most recipients never need.

A notification with a ``group_key`` collapses, per recipient, into their unread notification with
that key in the inbox (neither archived nor snoozed), if any (``grouped()``): the rows are read after the upsert has locked the inbox rows, in a
statement of their own (a single statement's snapshot predates the lock wait on PostgreSQL, so it
could miss the group a concurrent call just committed). That path takes a few more statements, still
constant in the number of recipients apart from one UPDATE per distinct resulting actor list (one
when the recipients' groups saw the same events).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Exists, F, OuterRef, QuerySet, Subquery
from django.db.models.constants import OnConflict
from django.utils import timezone

from notifications import preferences
from notifications.conf import app_settings
from notifications.constants import IN_APP
from notifications.models import InboxState, Notification, PushSubscription
from notifications.validation import merge_actors


def insert(user_pks: Sequence[Any], columns: dict[str, Any], using: str) -> list[Notification]:
    """Create one notification with ``columns`` for each user who wants it in_app; return them (unordered)."""
    if columns["group_key"]:
        return grouped(user_pks, columns, using)
    connection = connections[using]
    features = connection.features
    push = app_settings.WEB_PUSH is not None
    template = Notification(created_at=timezone.now(), **columns)
    values = [f.get_db_prep_save(getattr(template, f.attname), connection) for f in _shared()]
    user_field = InboxState._meta.get_field("user")
    if features.supports_update_conflicts_with_target and features.can_return_rows_from_bulk_insert:
        wanted, wanted_params = preferences.wanting_sql(columns["category"], IN_APP, using)
        user_params = [user_field.get_db_prep_value(pk, connection) for pk in user_pks]
        user_params += wanted_params
        upsert, insert_rows = _statements(using, len(user_pks), wanted, push)
        with connection.cursor() as cursor:
            if upsert is None:
                cursor.execute(insert_rows, user_params + values)
            else:
                cursor.execute(upsert, user_params)
                cursor.execute(insert_rows, values + user_params)
            return _created(cursor.fetchall(), template, using, push)
    # Statements that name the users again (or read the rows back): choose them first.
    user_pks = preferences.in_app_recipients(list(user_pks), columns["category"])
    if not user_pks:
        return []
    sql = _Sql(connection, len(user_pks), "1 = 1", push=push)
    user_params = [user_field.get_db_prep_value(pk, connection) for pk in user_pks]
    with connection.cursor() as cursor:
        if features.supports_update_conflicts_with_target:
            cursor.execute(sql.upsert(), user_params)
        else:
            sql.advance_without_upsert(cursor, user_pks, user_params, using)
        cursor.execute(sql.insert_notifications(_shared(), sql.advanced()), values + user_params)
        if sql.returning:
            return _created(cursor.fetchall(), template, using, push)
    # The inbox rows are locked: each user's newest seq is the row just inserted.
    return _with_push(
        Notification.objects.using(using).filter(
            recipient_id__in=user_pks, seq=F("recipient__notification_inbox__last_seq")
        )
    )


_PER_ROW = ("id", "recipient_id", "seq")  # what each row gets of its own (RETURNING's order)


@cache
def _shared() -> list[Any]:
    """The columns every notification of one call shares (all but id, recipient and seq)."""
    return [f for f in Notification._meta.concrete_fields if f.attname not in _PER_ROW]


@lru_cache(maxsize=32)
def _statements(using: str, count: int, wanted: str, push: bool) -> tuple[str | None, str]:
    """(the upsert, the INSERT ... SELECT) for ``count`` users, built once per shape instead of on
    every call; on PostgreSQL the upsert is a CTE of the INSERT (None)."""
    connection = connections[using]
    sql = _Sql(connection, count, wanted, push=push)
    if connection.vendor == "postgresql":
        return (
            None,
            f"WITH {sql.NEW} AS ({sql.upsert()}) {sql.insert_notifications(_shared(), sql.NEW)}",
        )
    return sql.upsert(), sql.insert_notifications(_shared(), sql.advanced())


def _created(
    rows: Sequence[Sequence[Any]], template: Notification, using: str, push: bool
) -> list[Notification]:
    """The notifications of RETURNING's rows: (id, recipient, seq[, recipient has push])."""
    to_user_pk = get_user_model()._meta.pk.to_python
    # Model.from_db() with every concrete field in order: Model.__init__'s fast positional path.
    names = [f.attname for f in Notification._meta.concrete_fields]
    values = [getattr(template, name) for name in names]
    pk_at, recipient_at, seq_at = (names.index(name) for name in _PER_ROW)
    created = []
    for row in rows:
        values[pk_at], values[recipient_at], values[seq_at] = row[0], to_user_pk(row[1]), row[2]
        n = Notification.from_db(using, names, values)
        if push:
            n.recipient_has_push = bool(row[3])
        created.append(n)
    return created


def _with_push(notifications: QuerySet[Notification]) -> list[Notification]:
    """The notifications, each with ``recipient_has_push`` read in the same query if Web Push is on."""
    if app_settings.WEB_PUSH is None:
        return list(notifications)
    subscriptions = PushSubscription.objects.filter(user_id=OuterRef("recipient_id"))
    # The annotation fills the model's attribute of that name (not a field: no conflict at run time).
    return list(notifications.annotate(recipient_has_push=Exists(subscriptions)))  # type: ignore[no-redef]


def grouped(user_pks: Sequence[Any], columns: dict[str, Any], using: str) -> list[Notification]:
    """notify() with a group_key: collapse into each recipient's unread group in the inbox, else
    start one.

    A collapsed notification keeps its id and takes the new event's fields, the next seq (so it
    moves to the top), one more ``group_count`` and the event's actor in front of ``actors``; only
    the notifications that start a group add to the unread count. A collapsed notification is new
    to its recipient again: unseen, so one the dropdown had shown adds to the unseen count.
    """
    connection = connections[using]
    user_pks = preferences.in_app_recipients(list(user_pks), columns["category"])
    if not user_pks:
        return []
    sql = _Sql(connection, len(user_pks), "1 = 1")
    user_params = [sql.user_field.get_db_prep_value(pk, connection) for pk in user_pks]
    with connection.cursor() as cursor:
        # Locks the inbox rows and allocates the seqs; the counts wait for what starts a group.
        if connection.features.supports_update_conflicts_with_target:
            cursor.execute(sql.upsert(unread=0), user_params)
        else:
            sql.advance_without_upsert(cursor, user_pks, user_params, using, unread=0)
    notifications = Notification.objects.using(using)
    # Read under the inbox locks: every other change of these users' groups has committed or waits.
    current: dict[Any, tuple[int, Any, bool]] = {}
    for pk, recipient_id, actors, seen_at in (
        notifications.filter(
            recipient_id__in=user_pks, group_key=columns["group_key"], read_at__isnull=True
        )
        .inbox()
        .order_by("seq")
        .values_list("pk", "recipient_id", "actors", "seen_at")
    ):
        # The newest, if unread again, unarchived or woken made two.
        current[recipient_id] = (pk, actors, seen_at is not None)
    by_actors: dict[str, tuple[list[dict[str, str]], list[int]]] = {}
    for pk, actors, _seen in current.values():
        merged = merge_actors(actors, columns.get("actors", []))
        by_actors.setdefault(repr(merged), (merged, []))[1].append(pk)
    newest = {k: v for k, v in columns.items() if k not in ("actor", "target", "action_object")}
    newest.update(_related_ids(columns))
    newest["created_at"] = timezone.now()
    last_seq = InboxState.objects.using(using).filter(user_id=OuterRef("recipient_id"))
    for actors, pks in by_actors.values():
        notifications.filter(pk__in=pks).update(
            **{**newest, "actors": actors},
            seq=Subquery(last_seq.values("last_seq")[:1]),
            group_count=F("group_count") + 1,
            seen_at=None,
        )
    seen_again = [user_pk for user_pk, (_pk, _actors, seen) in current.items() if seen]
    if seen_again:
        InboxState.objects.using(using).add_counts(seen_again, unread=0, unseen=1)
    starting = [pk for pk in user_pks if pk not in current]
    if starting:
        template = Notification(created_at=newest["created_at"], **columns)
        shared = _shared()
        values = [f.get_db_prep_save(getattr(template, f.attname), connection) for f in shared]
        start_sql = _Sql(connection, len(starting), "1 = 1")
        start_params = [start_sql.user_field.get_db_prep_value(pk, connection) for pk in starting]
        new_rows = f"{sql.inbox_table} WHERE {sql.user_id} IN ({start_sql.in_users})"
        with connection.cursor() as cursor:
            cursor.execute(sql.insert_notifications(shared, new_rows), values + start_params)
        InboxState.objects.using(using).add_counts(starting, unread=1, unseen=1)
    # Each user's newest seq is the row just inserted or collapsed (the inbox rows are locked).
    return _with_push(
        notifications.filter(
            recipient_id__in=user_pks, seq=F("recipient__notification_inbox__last_seq")
        )
    )


def _related_ids(columns: dict[str, Any]) -> dict[str, Any]:
    """The actor's, target's and action object's columns for an UPDATE (cleared when absent)."""
    out: dict[str, Any] = {}
    for name in ("actor", "target", "action_object"):
        obj = columns.get(name)
        out[f"{name}_content_type"] = (
            None if obj is None else ContentType.objects.get_for_model(obj)
        )
        out[f"{name}_object_id"] = "" if obj is None else str(obj.pk)
        out[f"{name}_display"] = columns.get(f"{name}_display", "")
    return out


class _Sql:
    """The statements of one call, for ``count`` users, in the database's quoting."""

    NEW = "new_inbox"  # the upserted inbox rows, on PostgreSQL

    def __init__(
        self, connection: BaseDatabaseWrapper, count: int, wanted: str, push: bool = False
    ) -> None:
        self.connection = connection
        self.wanted = wanted
        self.push = push
        self.qn = qn = connection.ops.quote_name
        self.user_field = InboxState._meta.get_field("user")
        self.in_users = ", ".join(["%s"] * count)
        self.returning = connection.features.can_return_rows_from_bulk_insert
        user_model = get_user_model()
        self.user_table, self.user_pk = (
            qn(user_model._meta.db_table),
            qn(str(user_model._meta.pk.column)),
        )
        self.inbox_table = qn(InboxState._meta.db_table)
        self.user_id, self.last_seq = (
            self.column(InboxState, "user"),
            self.column(InboxState, "last_seq"),
        )
        self.unread = self.column(InboxState, "unread_count")
        self.unseen = self.column(InboxState, "unseen_count")

    def column(self, model: type[models.Model], name: str) -> str:
        return self.qn(str(model._meta.get_field(name).column))  # type: ignore[union-attr]

    def users(self, *extra: str) -> str:
        """The recipients: existing users (a deleted one gets nothing) who want it in_app."""
        return (
            f"SELECT {', '.join([self.user_pk, *extra])} FROM {self.user_table} "  # noqa: S608
            f"WHERE {self.user_pk} IN ({self.in_users}) AND {self.wanted}"
        )

    def advanced(self) -> str:
        """The recipients' inbox rows, their seq just advanced (new rows for insert_notifications)."""
        return f"{self.inbox_table} WHERE {self.user_id} IN ({self.users()})"

    def _new_inboxes(self, seq: int, unread: int, prefix: str) -> str:
        return (
            f"{prefix} {self.inbox_table} ({self.user_id}, {self.last_seq}, {self.unread}, "
            f"{self.unseen}) {self.users(str(seq), str(unread), str(unread))} ORDER BY {self.user_pk}"
        )

    def upsert(self, unread: int = 1) -> str:
        """Create each inbox row at seq 1, or advance it by one, adding `unread` to its unread and
        unseen counts; on PostgreSQL, return the rows."""
        sql = (
            f"{self._new_inboxes(1, unread, 'INSERT INTO')} ON CONFLICT ({self.user_id}) "
            f"DO UPDATE SET {self.last_seq} = {self.inbox_table}.{self.last_seq} + 1, "
            f"{self.unread} = {self.inbox_table}.{self.unread} + {unread}, "
            f"{self.unseen} = {self.inbox_table}.{self.unseen} + {unread}"
        )
        if self.connection.vendor == "postgresql":
            sql += f" RETURNING {self.user_id}, {self.last_seq}"
        return sql

    def advance_without_upsert(
        self,
        cursor: Any,
        user_pks: Sequence[Any],
        user_params: list[Any],
        using: str,
        unread: int = 1,
    ) -> None:
        ops = self.connection.ops
        ignore = ops.on_conflict_suffix_sql([], OnConflict.IGNORE, [], []) or ""
        insert_ignore = ops.insert_statement(on_conflict=OnConflict.IGNORE)
        cursor.execute(f"{self._new_inboxes(0, 0, insert_ignore)} {ignore}", user_params)
        inboxes = InboxState.objects.using(using)
        inboxes.lock(user_pks)
        inboxes.filter(user_id__in=user_pks).update(
            last_seq=F("last_seq") + 1,
            unread_count=F("unread_count") + unread,
            unseen_count=F("unseen_count") + unread,
        )

    def insert_notifications(self, shared: list[Any], new_rows: str) -> str:
        """INSERT ... SELECT one notification per row of ``new_rows`` (inbox rows, seq advanced)."""
        n_id, recipient, seq = (self.column(Notification, f) for f in ("id", "recipient", "seq"))
        columns = ", ".join([recipient, seq, *(self.qn(str(f.column)) for f in shared)])
        sql = (
            f"INSERT INTO {self.qn(Notification._meta.db_table)} ({columns}) "  # noqa: S608
            f"SELECT {self.user_id}, {self.last_seq}, {', '.join(['%s'] * len(shared))} "
            f"FROM {new_rows}"
        )
        if self.returning:
            sql += f" RETURNING {n_id}, {recipient}, {seq}"
            if self.push:
                sql += f", {self.has_push(f'{self.qn(Notification._meta.db_table)}.{recipient}')}"
        return sql

    def has_push(self, user_column: str) -> str:
        """Whether the user in ``user_column`` has a Web Push subscription: one probe of the
        subscriptions' user index, in the statement that already runs, instead of a query per
        notify() after commit (backends/push.py)."""
        table = self.qn(PushSubscription._meta.db_table)
        user = self.column(PushSubscription, "user")
        return f"EXISTS (SELECT 1 FROM {table} WHERE {table}.{user} = {user_column})"  # noqa: S608
