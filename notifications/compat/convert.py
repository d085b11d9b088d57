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

``survey.py`` counts what there is (the dry run), ``copier.py`` copies the rows; this module sets the
table aside and runs the copy.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

from notifications.compat.copier import Copier
from notifications.compat.survey import ARCHIVE, ORDER_INDEX, TABLE, Report, survey

DEFAULT_BATCH_SIZE = 2000

Output = Callable[[str], Any]


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
    copier = Copier(connection, notification_model, inbox_model)
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
