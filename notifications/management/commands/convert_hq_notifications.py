"""Report, or undo, the conversion of django-notifications-hq's table (migration 0002 runs it)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from notifications.compat import convert, rollback, survey
from notifications.management.base import TranslatedHelpCommand
from notifications.models import InboxState, Notification


class Command(TranslatedHelpCommand):
    help_text = gettext_lazy(
        "django-notifications-hq's data: --dry-run reports what `migrate` will convert; --rollback "
        "puts hq's table back; --drop-archive deletes hq's old rows once you keep ours."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument(
            "--dry-run",
            action="store_true",
            help=_("Report what `migrate` will do; change nothing."),
        )
        action.add_argument(
            "--rollback",
            action="store_true",
            help=_("Drop this app's tables and put hq's table back (reinstall hq afterwards)."),
        )
        action.add_argument(
            "--drop-archive",
            action="store_true",
            help=_("Drop %(archive)s, hq's old rows (no rollback afterwards).")
            % {"archive": survey.ARCHIVE},
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help=_("Roll back even though notifications were created since the conversion."),
        )
        parser.add_argument(
            "--batch-size", type=int, default=convert.DEFAULT_BATCH_SIZE, help=_("For --dry-run.")
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args: Any, **options: Any) -> None:
        using = options["database"]
        report = survey.survey(using)
        if options["dry_run"]:
            if options["batch_size"] < 1:
                raise CommandError(_("--batch-size must be at least 1."))
            for line in survey.describe(report, options["batch_size"]):
                self.stdout.write(line)
            return
        if report.state != "archived":
            raise CommandError(
                _(
                    "There is no %(archive)s table: nothing was converted from "
                    "django-notifications-hq, or its archive was dropped."
                )
                % {"archive": survey.ARCHIVE}
            )
        if report.todo:
            raise CommandError(
                ngettext(
                    "The conversion is unfinished (%(count)d row left): run `manage.py migrate` "
                    "first.",
                    "The conversion is unfinished (%(count)d rows left): run `manage.py migrate` "
                    "first.",
                    report.todo,
                )
                % {"count": report.todo}
            )
        if options["drop_archive"]:
            rollback.drop_archive(using)
            self.stdout.write(_("Dropped %(archive)s.") % {"archive": survey.ARCHIVE})
            return
        newer = rollback.newer_than_archive(using)
        if newer and not options["force"]:
            raise CommandError(
                ngettext(
                    "%(count)d notification was created since the conversion; the rollback would "
                    "lose it. Add --force to roll back anyway.",
                    "%(count)d notifications were created since the conversion; the rollback "
                    "would lose them. Add --force to roll back anyway.",
                    newer,
                )
                % {"count": newer}
            )
        rollback.rollback(using, Notification, InboxState)
        self.stdout.write(
            ngettext(
                "%(table)s is django-notifications-hq's table again, with its %(count)d row as "
                "it was. Now reinstall django-notifications-hq.",
                "%(table)s is django-notifications-hq's table again, with its %(count)d rows as "
                "they were. Now reinstall django-notifications-hq.",
                report.rows,
            )
            % {"table": survey.TABLE, "count": report.rows}
        )
