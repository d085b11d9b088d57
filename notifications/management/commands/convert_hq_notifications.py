"""Report, or undo, the conversion of django-notifications-hq's table (migration 0002 runs it)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS

from notifications.compat import convert
from notifications.models import InboxState, Notification


class Command(BaseCommand):
    help = (
        "django-notifications-hq's data: --dry-run reports what `migrate` will convert; "
        "--rollback puts hq's table back; --drop-archive deletes hq's old rows once you keep ours."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument(
            "--dry-run", action="store_true", help="Report what `migrate` will do; change nothing."
        )
        action.add_argument(
            "--rollback",
            action="store_true",
            help="Drop this app's tables and put hq's table back (reinstall hq afterwards).",
        )
        action.add_argument(
            "--drop-archive",
            action="store_true",
            help=f"Drop {convert.ARCHIVE}, hq's old rows (no rollback afterwards).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Roll back even though notifications were created since the conversion.",
        )
        parser.add_argument(
            "--batch-size", type=int, default=convert.DEFAULT_BATCH_SIZE, help="For --dry-run."
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args: Any, **options: Any) -> None:
        using = options["database"]
        report = convert.survey(using)
        if options["dry_run"]:
            if options["batch_size"] < 1:
                raise CommandError("--batch-size must be at least 1.")
            for line in convert.describe(report, options["batch_size"]):
                self.stdout.write(line)
            return
        if report.state != "archived":
            raise CommandError(
                f"There is no {convert.ARCHIVE} table: nothing was converted from "
                "django-notifications-hq, or its archive was dropped."
            )
        if report.todo:
            raise CommandError(
                f"The conversion is unfinished ({report.todo} rows left): run `manage.py migrate` "
                "first."
            )
        if options["drop_archive"]:
            convert.drop_archive(using)
            self.stdout.write(f"Dropped {convert.ARCHIVE}.")
            return
        newer = convert.newer_than_archive(using)
        if newer and not options["force"]:
            raise CommandError(
                f"{newer} notifications were created since the conversion; the rollback would "
                "lose them. Add --force to roll back anyway."
            )
        convert.rollback(using, Notification, InboxState)
        self.stdout.write(
            f"{convert.TABLE} is django-notifications-hq's table again, with its "
            f"{report.rows} rows as they were. Now reinstall django-notifications-hq."
        )
