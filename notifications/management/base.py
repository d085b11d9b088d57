"""What the app's management commands share."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.functional import Promise


class TranslatedHelpCommand(BaseCommand):
    """A command whose help is ``help_text``, a ``gettext_lazy`` string, shown in the language active
    when its parser is built: argparse takes a str, not a lazy string, as ``help``.

    A command that can report what it would do sets ``dry_run_help``: it then takes ``--dry-run``.
    """

    help_text: Promise
    dry_run_help: Promise | None = None

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = str(self.help_text)
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        if self.dry_run_help is not None:
            parser.add_argument("--dry-run", action="store_true", help=str(self.dry_run_help))
        return parser
