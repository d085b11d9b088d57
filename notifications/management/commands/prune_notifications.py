from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from notifications.api import delete_many
from notifications.conf import app_settings
from notifications.models import Notification


def _non_negative_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return number


def _positive_int(value: str) -> int:
    number = _non_negative_int(value)
    if number == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


class Command(BaseCommand):
    help = (
        "Delete notifications older than DAYS days, in batches, keeping every unread count exact "
        "(open sockets get a `deleted` frame). --read-only keeps the unread ones."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            metavar="DAYS",
            type=_non_negative_int,
            required=True,
            help="Delete notifications created more than DAYS days ago.",
        )
        parser.add_argument(
            "--read-only", action="store_true", help="Only delete notifications already read."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )
        parser.add_argument(
            "--batch-size",
            type=_positive_int,
            default=None,
            help="Notifications per DELETE (default: NOTIFICATIONS['BATCH_SIZE']).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days: int = options["older_than"]
        try:
            cutoff = timezone.now() - timedelta(days=days)
        except OverflowError:
            raise CommandError(f"--older-than {days} is too far back.") from None
        doomed = Notification.objects.filter(created_at__lt=cutoff)
        if options["read_only"]:
            doomed = doomed.filter(read_at__isnull=False)
        what = "read notification(s)" if options["read_only"] else "notification(s)"
        if options["dry_run"]:
            n = doomed.count()
            self.stdout.write(f"Would delete {n} {what} older than {days} day(s) (dry run).")
            return
        batch = options["batch_size"] or app_settings.BATCH_SIZE
        progress = _Progress(self.stdout, doomed.count()) if self._is_tty() else None
        deleted = delete_many(
            doomed, batch_size=batch, on_batch=progress.update if progress else None
        )
        if progress is not None:
            progress.finish()
        self.stdout.write(self.style.SUCCESS(f"Deleted {deleted} {what} older than {days} day(s)."))

    def _is_tty(self) -> bool:
        isatty = getattr(self.stdout, "isatty", None)
        return bool(isatty and isatty())


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
