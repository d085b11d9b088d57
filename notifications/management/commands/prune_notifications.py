from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from notifications.api import delete_many
from notifications.conf import app_settings
from notifications.management.base import TranslatedHelpCommand
from notifications.models import Notification


def _non_negative_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("%(value)r is not a whole number") % {"value": value}
        ) from None
    if number < 0:
        raise argparse.ArgumentTypeError(_("%(value)s is negative") % {"value": value})
    return number


def _positive_int(value: str) -> int:
    number = _non_negative_int(value)
    if number == 0:
        raise argparse.ArgumentTypeError(_("must be at least 1"))
    return number


class Command(TranslatedHelpCommand):
    help_text = gettext_lazy(
        "Delete notifications older than DAYS days, in batches, keeping every unread count "
        "exact (open sockets get a `deleted` frame). --read-only keeps the unread ones."
    )
    dry_run_help = gettext_lazy("Count what would be deleted; delete nothing.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            metavar="DAYS",
            type=_non_negative_int,
            required=True,
            help=_("Delete notifications created more than DAYS days ago."),
        )
        parser.add_argument(
            "--read-only", action="store_true", help=_("Only delete notifications already read.")
        )
        parser.add_argument(
            "--batch-size",
            type=_positive_int,
            default=None,
            help=_("Notifications per DELETE (default: NOTIFICATIONS['BATCH_SIZE'])."),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days: int = options["older_than"]
        try:
            cutoff = timezone.now() - timedelta(days=days)
        except OverflowError:
            raise CommandError(
                _("--older-than %(days)d is too far back.") % {"days": days}
            ) from None
        doomed = Notification.objects.filter(created_at__lt=cutoff)
        if options["read_only"]:
            doomed = doomed.filter(read_at__isnull=False)
        if options["dry_run"]:
            self.stdout.write(_summary(doomed.count(), days, options["read_only"], dry_run=True))
            return
        batch = options["batch_size"] or app_settings.BATCH_SIZE
        progress = _Progress(self.stdout, doomed.count()) if self._is_tty() else None
        deleted = delete_many(
            doomed, batch_size=batch, on_batch=progress.update if progress else None
        )
        if progress is not None:
            progress.finish()
        self.stdout.write(
            self.style.SUCCESS(_summary(deleted, days, options["read_only"], dry_run=False))
        )

    def _is_tty(self) -> bool:
        isatty = getattr(self.stdout, "isatty", None)
        return bool(isatty and isatty())


def _summary(count: int, days: int, read_only: bool, *, dry_run: bool) -> str:
    """ "Deleted 3 notifications older than 30 days.", each count with its own plural."""
    older = ngettext("older than %(days)d day", "older than %(days)d days", days) % {"days": days}
    values = {"count": count, "older": older}
    if dry_run and read_only:
        return (
            ngettext(
                "Would delete %(count)d read notification %(older)s (dry run).",
                "Would delete %(count)d read notifications %(older)s (dry run).",
                count,
            )
            % values
        )
    if dry_run:
        return (
            ngettext(
                "Would delete %(count)d notification %(older)s (dry run).",
                "Would delete %(count)d notifications %(older)s (dry run).",
                count,
            )
            % values
        )
    if read_only:
        return (
            ngettext(
                "Deleted %(count)d read notification %(older)s.",
                "Deleted %(count)d read notifications %(older)s.",
                count,
            )
            % values
        )
    return (
        ngettext(
            "Deleted %(count)d notification %(older)s.",
            "Deleted %(count)d notifications %(older)s.",
            count,
        )
        % values
    )


class _Progress:
    """A one-line progress bar, redrawn in place: only on a terminal."""

    WIDTH = 30

    def __init__(self, out: Any, total: int) -> None:
        self.out = out
        self.total = max(total, 1)

    def update(self, done: int) -> None:
        filled = min(self.WIDTH, self.WIDTH * done // self.total)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.out.write(f"\r[{bar}] {done}/{self.total}", ending="")
        self.out.flush()

    def finish(self) -> None:
        self.out.write("")
