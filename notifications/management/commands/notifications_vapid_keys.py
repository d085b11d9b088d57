"""``manage.py notifications_vapid_keys``: print a fresh VAPID key pair for NOTIFICATIONS["WEB_PUSH"]."""

from __future__ import annotations

import base64
from typing import Any

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from notifications.management.base import TranslatedHelpCommand


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class Command(TranslatedHelpCommand):
    help_text = gettext_lazy(
        "Print a new VAPID key pair (P-256) for NOTIFICATIONS['WEB_PUSH']. Keep the private key "
        "secret; changing the pair later makes every browser subscribe again."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
            from py_vapid import Vapid
        except ImportError:
            raise CommandError(
                _("Web Push needs pywebpush: pip install 'django-realtime-notifications[push]'")
            ) from None
        pair = Vapid()
        pair.generate_keys()
        private = pair.private_key.private_numbers().private_value.to_bytes(32, "big")
        public = pair.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        self.stdout.write(
            "NOTIFICATIONS = {\n"
            '    "WEB_PUSH": {\n'
            f'        "VAPID_PUBLIC_KEY": "{_b64url(public)}",\n'
            f'        "VAPID_PRIVATE_KEY": "{_b64url(private)}",  # secret: load it from the environment\n'
            '        "SUBJECT": "mailto:admin@example.com",  # how push services reach you\n'
            "    },\n"
            "}\n"
        )
