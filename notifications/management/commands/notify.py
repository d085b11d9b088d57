from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser

from notifications import recipients as resolver
from notifications import validation
from notifications.api import notify, notify_many
from notifications.constants import Level
from notifications.exceptions import NotificationsError


class Command(BaseCommand):
    help = (
        "Send a notification to users, by username, to the active members of a group with --group, "
        "or to every active user with --all. --body - reads the body from standard input."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("usernames", nargs="*", help="Recipients, by username.")
        parser.add_argument("--all", action="store_true", help="Every active user.")
        parser.add_argument(
            "--group", metavar="NAME", help="The active members of this auth Group."
        )
        parser.add_argument("--verb", required=True)
        parser.add_argument("--title", default="")
        parser.add_argument("--body", default="", help='The body; "-" reads it from stdin.')
        parser.add_argument("--url", default="")
        parser.add_argument("--level", default=Level.INFO, choices=Level.values)
        parser.add_argument("--category", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        usernames: list[str] = options["usernames"]
        group: str | None = options.get("group")
        if sum([bool(options["all"]), bool(usernames), group is not None]) != 1:
            raise CommandError("Name the recipients, or pass --all or --group NAME (not several).")
        body: str = options["body"]
        if body == "-":
            stdin = options.get("stdin") or sys.stdin
            try:
                body = stdin.read().removesuffix("\n")
            except UnicodeDecodeError as exc:
                raise CommandError(f"The body on stdin is not valid text: {exc}") from None
        # The options named as notify()'s arguments are those arguments.
        fields = {name: options[name] for name in validation.KEYWORDS if name in options}
        fields["body"] = body
        try:
            if group is not None:
                recipients: Any = Group.objects.get(name=group)
            elif options["all"]:
                recipients = resolver.active_users()
            else:
                recipients = resolver.by_username(usernames)
            # Everyone, or a whole group: in batches with bounded memory (notify_many).
            send = notify_many if (group is not None or options["all"]) else _notify_count
            count = send(recipients, options["verb"], **fields)
        except Group.DoesNotExist:
            raise CommandError(f"Unknown group: {group!r}.") from None
        except NotificationsError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Notified {count} user(s)."))


def _notify_count(recipients: Any, verb: str, **kwargs: Any) -> int:
    return len(notify(recipients, verb, **kwargs))
