from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from notifications.digests import MailServerUnavailable, send_digests


class Command(BaseCommand):
    help = (
        "Email each user their unread notifications older than NOTIFICATIONS['EMAIL_DIGEST_DELAY'] "
        "that were never emailed, one digest per user. Run it from cron, every few minutes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="List who would get a digest; send nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run: bool = options["dry_run"]
        try:
            report = send_digests(dry_run=dry_run)
        except MailServerUnavailable as exc:
            raise CommandError(
                f"{exc}. Nothing was lost: the next run sends these digests."
            ) from exc
        for digest in report.sent:
            count = len(digest.notifications)
            self.stdout.write(
                f"{'would email' if dry_run else 'emailed'} {digest.user.get_username()} "
                f"<{digest.address}>: {count} notification{'s' if count != 1 else ''}"
            )
        for digest in report.failed:
            self.stderr.write(f"failed: {digest.user.get_username()} <{digest.address}>")
        for user in report.skipped:
            self.stdout.write(f"skipped {user.get_username()}: no email address, or inactive")
        listed = sum(len(d.notifications) for d in report.sent)
        verb = "Would send" if dry_run else "Sent"
        self.stdout.write(
            f"{verb} {len(report.sent)} digest(s) listing {listed} notification(s); "
            f"{len(report.failed)} failed; {len(report.skipped)} user(s) skipped."
        )
        if report.failed:
            raise CommandError(
                f"{len(report.failed)} digest email(s) could not be sent; see the log."
            )
