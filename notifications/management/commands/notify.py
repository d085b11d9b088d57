from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth.models import Group
from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from notifications import recipients as resolver
from notifications import redis_fanout, validation
from notifications.api import notify, notify_many
from notifications.constants import Level
from notifications.exceptions import NotificationsError
from notifications.management.base import TranslatedHelpCommand


class Command(TranslatedHelpCommand):
    help_text = gettext_lazy(
        "Send a notification to users, by username, to the active members of a group with "
        "--group, or to every active user with --all. --body - reads the body from standard "
        "input."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("usernames", nargs="*", help=_("Recipients, by username."))
        parser.add_argument("--all", action="store_true", help=_("Every active user."))
        parser.add_argument(
            "--group", metavar="NAME", help=_("The active members of this auth Group.")
        )
        parser.add_argument("--verb", default=DEFAULT_VERB, help=_('Default: "%(default)s".'))
        parser.add_argument("--title", default="")
        parser.add_argument("--body", default="", help=_('The body; "-" reads it from stdin.'))
        parser.add_argument("--url", default="")
        parser.add_argument("--level", default=Level.INFO, choices=Level.values)
        parser.add_argument("--category", default="")
        parser.add_argument(
            "--group-key",
            default="",
            help=_("Collapse into the recipient's unread notification with this key."),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        usernames: list[str] = options["usernames"]
        group: str | None = options.get("group")
        if sum([bool(options["all"]), bool(usernames), group is not None]) != 1:
            raise CommandError(
                _("Name the recipients, or pass --all or --group NAME (not several).")
            )
        body: str = options["body"]
        if body == "-":
            stdin = options.get("stdin") or sys.stdin
            try:
                body = stdin.read().removesuffix("\n")
            except UnicodeDecodeError as exc:
                raise CommandError(
                    _("The body on stdin is not valid text: %(error)s") % {"error": exc}
                ) from None
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
            raise CommandError(_("Unknown group: %(name)r.") % {"name": group}) from None
        except NotificationsError as exc:
            raise CommandError(str(exc)) from exc
        notified = ngettext("Notified %(count)d user", "Notified %(count)d users", count) % {
            "count": count
        }
        summary = _("%(notified)s; %(delivery)s.") % {
            "notified": notified,
            "delivery": delivery_note(),
        }
        self.stdout.write(self.style.SUCCESS(summary))


#: A notification needs a verb; from a shell, "--title hi" alone should do.
DEFAULT_VERB = "notified"


def delivery_note() -> str:
    """How open sockets get what this process created: the configured layer decides."""
    if redis_fanout.redis_fanout() is not None:
        return _("open sockets get it live through Redis")
    if redis_fanout.is_local_only():
        return _(
            "open sockets get it within ~%(seconds)g s (in-memory layer: server processes poll "
            "the database)"
        ) % {"seconds": redis_fanout.sync_interval()}
    if redis_fanout.layer_config():
        return _("open sockets get it live through the channel layer")
    return _("live delivery is off (no channel layer): it shows at the next page load")


def _notify_count(recipients: Any, verb: str, **kwargs: Any) -> int:
    return len(notify(recipients, verb, **kwargs))
