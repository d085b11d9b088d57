from __future__ import annotations

from django.apps import AppConfig, apps
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

        from notifications import compat, rules, signals

        signals.notify.connect(compat.notify_handler, dispatch_uid="notifications.compat.notify")
        rules.autodiscover()
        if apps.is_installed("django.contrib.admin"):
            from notifications.admin import add_user_actions

            add_user_actions()
