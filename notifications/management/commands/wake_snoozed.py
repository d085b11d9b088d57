from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy, ngettext

from notifications.api import wake_snoozed
from notifications.management.base import TranslatedHelpCommand


class Command(TranslatedHelpCommand):
    help_text = gettext_lazy(
        "Bring back the notifications whose snooze ended: unread, at the top of the inbox, "
        "pushed to open sockets. Run it from cron every minute."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = wake_snoozed()
        self.stdout.write(
            self.style.SUCCESS(
                ngettext("Woke %(count)d notification.", "Woke %(count)d notifications.", count)
                % {"count": count}
            )
        )
