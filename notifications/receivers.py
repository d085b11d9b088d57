"""Receivers the app connects in AppConfig.ready().

``AuthMiddlewareStack`` reads the user once, at the handshake: without these, a socket opened before a
logout, a password change, a deactivation or a deleted session would go on receiving. Each sends a
message to the user's sockets, after commit; the sockets concerned close with 4401 within a second.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import SESSION_KEY
from django.db import transaction

from notifications import delivery

# Saves that cannot end a session: login's update of last_login.
_HARMLESS_FIELDS = frozenset({"last_login"})


def close_sockets_on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # The sockets of this session only: the user's other browsers stay signed in.
    if user is not None and user.pk is not None:
        key = getattr(getattr(request, "session", None), "session_key", None)
        delivery.send(delivery.logout_messages(user.pk, key))


def revalidate_on_user_change(
    sender: Any, instance: Any, created: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    # A password change, is_active = False, or the user deleted: each socket re-checks its session.
    if created or (update_fields is not None and set(update_fields) <= _HARMLESS_FIELDS):
        return
    if instance.pk is not None:
        messages = delivery.revalidate_messages(instance.pk)
        transaction.on_commit(lambda: delivery.send(messages), robust=True)


def revalidate_on_session_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    # The sockets of that session re-check it (they close: it is gone, or was cycled to a new key).
    try:
        user_pk = instance.get_decoded().get(SESSION_KEY)
    except Exception:  # undecodable data is no signed-in session
        return
    if user_pk is not None:
        messages = delivery.revalidate_messages(user_pk, instance.session_key)
        transaction.on_commit(lambda: delivery.send(messages), robust=True)
