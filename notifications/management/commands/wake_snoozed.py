from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from notifications.api import wake_snoozed


class Command(BaseCommand):
    help = ""  # argparse needs a str, not a lazy string: see create_parser()

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = _(
            "Bring back the notifications whose snooze ended: unread, at the top of the inbox, "
            "pushed to open sockets. Run it from cron every minute."
        )
        return super().create_parser(prog_name, subcommand, **kwargs)

    def handle(self, *args: Any, **options: Any) -> None:
        count = wake_snoozed()
        self.stdout.write(
            self.style.SUCCESS(
                ngettext("Woke %(count)d notification.", "Woke %(count)d notifications.", count)
                % {"count": count}
            )
        )
