from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from notifications.digests import DigestReport, MailServerUnavailable, send_digests
from notifications.management.base import TranslatedHelpCommand


class Command(TranslatedHelpCommand):
    help_text = gettext_lazy(
        "Email each user their unread notifications older than NOTIFICATIONS['EMAIL_DIGEST_DELAY'] "
        "that were never emailed, one digest per user. Run it from cron, every few minutes."
    )
    dry_run_help = gettext_lazy("List who would get a digest; send nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run: bool = options["dry_run"]
        try:
            report = send_digests(dry_run=dry_run)
        except MailServerUnavailable as exc:
            raise CommandError(
                _(
                    "Cannot reach the mail server: %(error)s. Nothing was lost: the next run sends "
                    "these digests."
                )
                % {"error": exc.__cause__}
            ) from exc
        for digest in report.sent:
            count = len(digest.notifications)
            if dry_run:
                line = ngettext(
                    "would email %(user)s <%(address)s>: %(count)d notification",
                    "would email %(user)s <%(address)s>: %(count)d notifications",
                    count,
                )
            else:
                line = ngettext(
                    "emailed %(user)s <%(address)s>: %(count)d notification",
                    "emailed %(user)s <%(address)s>: %(count)d notifications",
                    count,
                )
            self.stdout.write(
                line
                % {"user": digest.user.get_username(), "address": digest.address, "count": count}
            )
        for digest in report.failed:
            self.stderr.write(
                _("failed: %(user)s <%(address)s>")
                % {"user": digest.user.get_username(), "address": digest.address}
            )
        for user in report.skipped:
            self.stdout.write(
                _("skipped %(user)s: no email address, or inactive") % {"user": user.get_username()}
            )
        self.stdout.write(_summary(report))
        if report.failed:
            raise CommandError(
                ngettext(
                    "%(count)d digest email could not be sent; see the log.",
                    "%(count)d digest emails could not be sent; see the log.",
                    len(report.failed),
                )
                % {"count": len(report.failed)}
            )


def _summary(report: DigestReport) -> str:
    listed = sum(len(d.notifications) for d in report.sent)
    if report.dry_run:
        digests = ngettext(
            "Would send %(count)d digest", "Would send %(count)d digests", len(report.sent)
        )
    else:
        digests = ngettext("Sent %(count)d digest", "Sent %(count)d digests", len(report.sent))
    parts = {
        "digests": digests % {"count": len(report.sent)},
        "listed": ngettext(
            "listing %(count)d notification", "listing %(count)d notifications", listed
        )
        % {"count": listed},
        "failed": ngettext("%(count)d failed", "%(count)d failed", len(report.failed))
        % {"count": len(report.failed)},
        "skipped": ngettext(
            "%(count)d user skipped", "%(count)d users skipped", len(report.skipped)
        )
        % {"count": len(report.skipped)},
    }
    return _("%(digests)s %(listed)s; %(failed)s; %(skipped)s.") % parts
