"""Convert django-notifications-hq's table into ours, in place: run by migration 0002 and by the
``convert_hq_notifications`` command (dry run, rollback).

Both apps are called ``notifications`` and use the table ``notifications_notification``, so a project
that switches has hq's migrations recorded (our 0001_initial looks applied) and hq's columns in the
table. The conversion:

1. sets hq's table aside as ``notifications_hq_archive`` (its indexes dropped: their names would
   collide with ours) and creates our tables, in one transaction;
2. copies the rows in batches, each batch in its own transaction with its inbox counts: hq's ids are
   kept (its URLs and slugs stay valid), each user's seq follows hq's order (timestamp, then id), and
   a re-run skips the rows already copied, so an interrupted conversion resumes where it stopped;
3. keeps the archive for the rollback (``convert_hq_notifications --rollback``, rollback.py) until
   ``--drop-archive``.
"""

from __future__ import annotations

import datetime
import json
import time
import tracemalloc
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from notifications.compat import HQ_LEVELS, hq_title, with_flags
from notifications.constants import DISPLAY_MAX_LENGTH, Level

TABLE = "notifications_notification"
ARCHIVE = "notifications_hq_archive"
ORDER_INDEX = "notifications_hq_archive_order"
#: hq's columns, as every release from 1.6 on has them.
HQ_COLUMNS = (
    "id",
    "recipient_id",
    "verb",
    "description",
    "level",
    "unread",
    "timestamp",
    "public",
    "deleted",
    "emailed",
    "data",
    "actor_content_type_id",
    "actor_object_id",
    "target_content_type_id",
    "target_object_id",
    "action_object_content_type_id",
    "action_object_object_id",
)
RELATIONS = ("actor", "target", "action_object")
DEFAULT_BATCH_SIZE = 2000

Output = Callable[[str], Any]


@dataclass
class Report:
    """What the conversion found (and, unless a dry run, did)."""

    state: str  # "hq": hq's table in place; "archived": set aside, copy unfinished or done; "none"
    rows: int = 0
    done: int = 0
    users: int = 0
    unread: int = 0
    deleted: int = 0
    private: int = 0
    emailed: int = 0
    seconds: float = 0.0
    peak_bytes: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def todo(self) -> int:
        return self.rows - self.done


def state(connection: BaseDatabaseWrapper) -> str:
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        if TABLE in tables:
            columns = {
                c.name for c in connection.introspection.get_table_description(cursor, TABLE)
            }
            if "unread" in columns and "seq" not in columns:
                return "hq"
    return "archived" if ARCHIVE in tables else "none"


def survey(using: str) -> Report:
    """Count what there is to convert; writes nothing."""
    connection = connections[using]
    report = Report(state(connection))
    if report.state == "none":
        return report
    source = TABLE if report.state == "hq" else ARCHIVE
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*), COUNT(DISTINCT {qn('recipient_id')}), "  # noqa: S608
            + ", ".join(
                f"SUM(CASE WHEN {qn(c)} = %s THEN 1 ELSE 0 END)"
                for c in ("unread", "deleted", "public", "emailed")
            )
            + f" FROM {qn(source)}",
            [True, True, False, True],
        )
        row = cursor.fetchone()
        report.rows, report.users = row[0], row[1]
        report.unread, report.deleted, report.private, report.emailed = (
            int(v or 0) for v in row[2:]
        )
        if report.state == "archived":
            cursor.execute(
                f"SELECT COUNT(*) FROM {qn(ARCHIVE)} a WHERE EXISTS "  # noqa: S608
                f"(SELECT 1 FROM {qn(TABLE)} n WHERE n.{qn('id')} = a.{qn('id')})"
            )
            report.done = cursor.fetchone()[0]
    return report


def describe(report: Report, batch_size: int) -> list[str]:
    """The dry run's account of what convert() would do (the command's output: translated)."""
    if report.state == "none":
        return [_("No django-notifications-hq table: nothing to convert.")]
    lines = []
    if report.state == "hq":
        lines.append(
            _(
                "Would rename django-notifications-hq's table %(table)s to %(archive)s (kept for the "
                "rollback), drop its indexes and create this app's tables."
            )
            % {"table": TABLE, "archive": ARCHIVE}
        )
    counts = {
        "rows": report.rows,
        "users": report.users,
        "unread": report.unread,
        "deleted": report.deleted,
        "private": report.private,
        "emailed": report.emailed,
    }
    notifications = (
        ngettext("%(rows)d notification", "%(rows)d notifications", report.rows) % counts
    )
    users = ngettext("%(users)d user", "%(users)d users", report.users) % counts
    lines.append(
        _(
            "%(notifications)s of %(users)s: %(unread)d unread, %(deleted)d soft-deleted, "
            "%(private)d not public, %(emailed)d emailed."
        )
        % {**counts, "notifications": notifications, "users": users}
    )
    if report.done:
        lines.append(
            ngettext(
                "%(count)d already converted by an earlier run: it is skipped.",
                "%(count)d already converted by an earlier run: they are skipped.",
                report.done,
            )
            % {"count": report.done}
        )
    batches = -(-report.todo // batch_size)
    rows = ngettext("Would copy %(count)d row", "Would copy %(count)d rows", report.todo) % {
        "count": report.todo
    }
    lines.append(
        ngettext(
            "%(rows)s in %(batches)d batch of up to %(size)d.",
            "%(rows)s in %(batches)d batches of up to %(size)d.",
            batches,
        )
        % {"rows": rows, "batches": batches, "size": batch_size}
    )
    return lines


def convert(
    using: str,
    notification_model: type[models.Model],
    inbox_model: type[models.Model],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    out: Output = print,
    measure: bool = False,
) -> Report:
    """Convert hq's table into ours (see the module docstring); a no-op without one."""
    connection = connections[using]
    report = survey(using)
    if report.state == "none":
        return report
    if measure:
        tracemalloc.start()
    started = time.monotonic()
    if report.state == "hq":
        out(f"django-notifications-hq table found: setting it aside as {ARCHIVE}.")
        _set_aside(connection, notification_model, inbox_model)
    out(f"Converting {report.todo} of {report.rows} django-notifications-hq notifications.")
    copier = _Copier(connection, notification_model, inbox_model)
    copied = 0
    for n in copier.batches(batch_size):
        copied += n
        elapsed = max(time.monotonic() - started, 1e-6)
        out(
            f"  {report.done + copied}/{report.rows} rows "
            f"({100 * (report.done + copied) // max(report.rows, 1)}%), {copied / elapsed:.0f} rows/s"
        )
    report.seconds = time.monotonic() - started
    if measure:
        report.peak_bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    missing = survey(using).todo
    if missing:
        raise DatabaseError(f"{missing} django-notifications-hq rows were not converted.")
    report.done = report.rows
    out(
        f"Converted {copied} notifications in {report.seconds:.1f} s "
        f"({copied / max(report.seconds, 1e-6):.0f} rows/s). hq's rows stay in {ARCHIVE} until "
        "`manage.py convert_hq_notifications --drop-archive`."
    )
    return report


def _set_aside(
    connection: BaseDatabaseWrapper,
    notification_model: type[models.Model],
    inbox_model: type[models.Model],
) -> None:
    qn = connection.ops.quote_name
    with connection.schema_editor(atomic=True) as editor:
        editor.execute(editor.sql_rename_table % {"old_table": qn(TABLE), "new_table": qn(ARCHIVE)})
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, ARCHIVE)
            tables = set(connection.introspection.table_names(cursor))
        for name, info in constraints.items():
            if info["primary_key"]:
                if connection.vendor == "postgresql":
                    editor.execute(f"ALTER INDEX {qn(name)} RENAME TO {qn(ARCHIVE + '_pkey')}")
            elif info["index"] and not name.startswith("sqlite_"):
                # Named after hq's table: the same names as the indexes of ours.
                editor.execute(editor.sql_delete_index % {"name": qn(name), "table": qn(ARCHIVE)})
        editor.execute(
            f"CREATE INDEX {qn(ORDER_INDEX)} ON {qn(ARCHIVE)} "
            f"({qn('recipient_id')}, {qn('timestamp')}, {qn('id')})"
        )
        if inbox_model._meta.db_table not in tables:
            editor.create_model(inbox_model)
        editor.create_model(notification_model)
        _ids_above_archive(connection, notification_model)


def _ids_above_archive(connection: BaseDatabaseWrapper, model: type[models.Model]) -> None:
    """New notifications (sent while the copy runs) take ids above hq's, never one of them."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX({qn('id')}) FROM {qn(ARCHIVE)}")  # noqa: S608
        top = cursor.fetchone()[0]
        if top is None:
            return
        if connection.vendor == "postgresql":
            cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [TABLE, top])
        elif connection.vendor == "sqlite":
            cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [top, TABLE])
            if not cursor.rowcount:
                cursor.execute(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [TABLE, top]
                )


class _Copier:
    """Copies the archive into our tables, one transaction per batch."""

    def __init__(
        self,
        connection: BaseDatabaseWrapper,
        notification_model: type[models.Model],
        inbox_model: type[models.Model],
    ) -> None:
        self.connection = connection
        self.using = connection.alias
        self.model = notification_model
        self.inbox = inbox_model
        qn = connection.ops.quote_name
        self.select = f"SELECT {', '.join(qn(c) for c in HQ_COLUMNS)} FROM {qn(ARCHIVE)}"  # noqa: S608
        self.order = f" ORDER BY {qn('recipient_id')}, {qn('timestamp')}, {qn('id')}"
        r, t, i = qn("recipient_id"), qn("timestamp"), qn("id")
        # A row-value comparison: both SQLite and PostgreSQL walk ORDER_INDEX from the key.
        self.after = f" WHERE ({r}, {t}, {i}) > (%s, %s, %s)"
        fields = [f for f in notification_model._meta.concrete_fields if f.attname in self.COLUMNS]
        self.prepared = [
            (f.attname, f.get_db_prep_save if f.attname in self.CONVERTED else self._as_is)
            for f in fields
        ]
        self.insert = (
            f"INSERT INTO {qn(notification_model._meta.db_table)} "  # noqa: S608
            f"({', '.join(qn(str(f.column)) for f in fields)}) VALUES ({', '.join(['%s'] * len(fields))})"
        )

    #: The columns the copy writes: every one of our 0001_initial's Notification, and seen_at when the
    #: model has it (0006_states): converted notifications count as seen, as that migration's do.
    COLUMNS = frozenset(
        ["id", "recipient_id", "seq", "verb", "title", "body", "level", "data", "created_at"]
        + ["read_at", "url", "category", "seen_at"]
        + [f"{n}_{s}" for n in RELATIONS for s in ("content_type_id", "object_id", "display")]
    )
    #: The ones whose Python value the database driver cannot take as it is.
    CONVERTED = frozenset(["data", "created_at", "read_at", "seen_at"])

    @staticmethod
    def _as_is(value: Any, connection: BaseDatabaseWrapper) -> Any:
        return value

    def batches(self, size: int) -> Iterable[int]:
        """Copy batch after batch; yield how many rows each one copied."""
        key: list[Any] | None = None
        while True:
            with self.connection.cursor() as cursor:
                if key is None:
                    cursor.execute(self.select + self.order + f" LIMIT {int(size)}")
                else:
                    cursor.execute(
                        self.select + self.after + self.order + f" LIMIT {int(size)}", key
                    )
                rows = [dict(zip(HQ_COLUMNS, row, strict=True)) for row in cursor.fetchall()]
            if not rows:
                return
            last = rows[-1]
            key = [last["recipient_id"], last["timestamp"], last["id"]]
            yield self._copy(rows)
            del rows

    def _copy(self, rows: list[dict[str, Any]]) -> int:
        with transaction.atomic(using=self.using):
            notifications = self.model._default_manager.using(self.using)
            copied = set(
                notifications.filter(pk__in=[r["id"] for r in rows]).values_list("pk", flat=True)
            )
            rows = [r for r in rows if r["id"] not in copied]
            if not rows:
                return 0
            user_ids = list(dict.fromkeys(r["recipient_id"] for r in rows))
            inboxes = self.inbox._default_manager.using(self.using)
            known = set(inboxes.filter(user_id__in=user_ids).values_list("user_id", flat=True))
            inboxes.bulk_create([self.inbox(user_id=u) for u in user_ids if u not in known])
            last_seq = dict(
                inboxes.select_for_update()
                .filter(user_id__in=user_ids)
                .order_by("pk")
                .values_list("user_id", "last_seq")
            )
            last_seq = {self._user_key(k): v for k, v in last_seq.items()}
            displays = self._displays(rows)
            added: dict[Any, list[int]] = {}
            values = []
            for r in rows:
                user = self._user_key(r["recipient_id"])
                seq = last_seq[user] = last_seq[user] + 1
                counts = added.setdefault(r["recipient_id"], [0, 0])
                counts[0] += 1
                counts[1] += bool(r["unread"])
                values.append(self._notification(r, seq, displays))
            with self.connection.cursor() as cursor:
                cursor.executemany(self.insert, values)
            by_delta: dict[tuple[int, int], list[Any]] = {}
            for user_id, (n, unread) in added.items():
                by_delta.setdefault((n, unread), []).append(user_id)
            for (n, unread), users in by_delta.items():
                inboxes.filter(user_id__in=users).update(
                    last_seq=F("last_seq") + n, unread_count=F("unread_count") + unread
                )
        return len(values)

    def _user_key(self, value: Any) -> Any:
        # The user's pk as Python sees it (a UUID read back from SQLite is text in the archive).
        return self.inbox._meta.pk.to_python(value)

    def _notification(self, r: dict[str, Any], seq: int, displays: dict[Any, str]) -> list[Any]:
        created_at = _aware(r["timestamp"])
        data = _json(r["data"])
        flags = {
            "public": bool(r["public"]),
            "deleted": bool(r["deleted"]),
            "emailed": bool(r["emailed"]),
        }
        level = HQ_LEVELS.get(r["level"].lower() if isinstance(r["level"], str) else r["level"])
        if level is None:
            flags["level"] = r["level"]
            level = Level.INFO
        data = with_flags(data, flags)
        shown = {
            name: displays.get((r[f"{name}_content_type_id"], r[f"{name}_object_id"]), "")
            for name in RELATIONS
        }
        verb = r["verb"] or ""
        columns: dict[str, Any] = {
            "id": r["id"],
            "recipient_id": r["recipient_id"],
            "seq": seq,
            "verb": verb,
            "title": hq_title(shown["actor"], shown["action_object"], shown["target"], verb=verb),
            "body": r["description"] or "",
            "level": level,
            "data": data,
            "created_at": created_at,
            "read_at": None if r["unread"] else created_at,
            "seen_at": created_at,
            "url": "",
            "category": "",
        }
        for name in RELATIONS:
            columns[f"{name}_content_type_id"] = r[f"{name}_content_type_id"]
            columns[f"{name}_object_id"] = r[f"{name}_object_id"] or ""
            columns[f"{name}_display"] = shown[name]
        # One prepared INSERT for all rows (bulk_create compiles each row's SQL: 3x slower).
        return [prep(columns[name], self.connection) for name, prep in self.prepared]

    def _displays(self, rows: list[dict[str, Any]]) -> dict[Any, str]:
        """str() of every actor, target and action object of the batch: one query per model."""
        wanted: dict[int, set[str]] = {}
        for r in rows:
            for name in RELATIONS:
                ct, pk = r[f"{name}_content_type_id"], r[f"{name}_object_id"]
                if ct is not None and pk not in (None, ""):
                    wanted.setdefault(ct, set()).add(str(pk))
        shown: dict[Any, str] = {}
        for ct_id, pks in wanted.items():
            try:
                model = ContentType.objects.db_manager(self.using).get_for_id(ct_id).model_class()
                if model is None:
                    continue
                keys = {}
                for pk in pks:
                    try:
                        keys[model._meta.pk.to_python(pk)] = pk
                    except Exception:  # noqa: S112  # a malformed id names nothing
                        continue
                with transaction.atomic(using=self.using):  # a savepoint: a failure stays local
                    found = model._base_manager.using(self.using).in_bulk(list(keys))
            except (ContentType.DoesNotExist, DatabaseError):
                continue  # a model whose table is gone, or ahead of the database: no display text
            for key, obj in found.items():
                shown[(ct_id, keys[key])] = str(obj)[:DISPLAY_MAX_LENGTH]
        return shown


def _aware(value: Any) -> Any:
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and settings.USE_TZ and timezone.is_naive(value):
        value = timezone.make_aware(value, datetime.UTC)
    return value


def _json(value: Any) -> Any:
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            return {"data": value if isinstance(value, str) else value.decode(errors="replace")}
    return value
