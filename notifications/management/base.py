"""What the app's management commands share."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.functional import Promise


class TranslatedHelpCommand(BaseCommand):
    """A command whose help is ``help_text``, a ``gettext_lazy`` string, shown in the language active
    when its parser is built: argparse takes a str, not a lazy string, as ``help``."""

    help_text: Promise

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = str(self.help_text)
        return super().create_parser(prog_name, subcommand, **kwargs)
