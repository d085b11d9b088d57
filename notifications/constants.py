"""Constants shared by the model, the API and the wire protocol."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.TextChoices):
    INFO = "info", _("Info")
    SUCCESS = "success", _("Success")
    WARNING = "warning", _("Warning")
    ERROR = "error", _("Error")


VERB_MAX_LENGTH = 255
TITLE_MAX_LENGTH = 255
URL_MAX_LENGTH = 2048
CATEGORY_MAX_LENGTH = 64
DISPLAY_MAX_LENGTH = 255
