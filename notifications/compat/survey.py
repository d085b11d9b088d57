"""What there is to convert from django-notifications-hq: the tables' names, the database's state, the
counts, and the dry run's account of them (``convert_hq_notifications --dry-run``). Writes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

TABLE = "notifications_notification"
ARCHIVE = "notifications_hq_archive"
ORDER_INDEX = "notifications_hq_archive_order"


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
