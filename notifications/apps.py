from __future__ import annotations

from importlib import import_module

from django.apps import AppConfig, apps
from django.conf import settings
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
        self.connect_session_receivers()

        from notifications import compat, rules, signals

        signals.notify.connect(compat.notify_handler, dispatch_uid="notifications.compat.notify")
        rules.autodiscover()
        if apps.is_installed("django.contrib.admin"):
            from notifications.admin import add_user_actions

            add_user_actions()

    def connect_session_receivers(self) -> None:
        from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
        from django.db.models.signals import post_delete, post_save

        from notifications import receivers

        for signal in (post_save, post_delete):
            signal.connect(
                receivers.revalidate_on_user_change,
                sender=settings.AUTH_USER_MODEL,
                dispatch_uid=f"notifications.revalidate_user.{signal is post_save}",
            )
        if not apps.is_installed("django.contrib.sessions"):
            return
        store = import_module(settings.SESSION_ENGINE).SessionStore
        if issubclass(store, DatabaseSessionStore):
            # Also makes deleting sessions in bulk (clearsessions) load the rows: see README.
            post_delete.connect(
                receivers.revalidate_on_session_delete,
                sender=store.get_model_class(),
                dispatch_uid="notifications.revalidate_session",
            )
