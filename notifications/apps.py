from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from notifications import checks, receivers

        checks.register_checks()
        user_logged_out.connect(
            receivers.close_sockets_on_logout, dispatch_uid="notifications.logout"
        )
