"""Test helpers for projects that use notifications. Public API: keep them stable.

from notifications.testing import assert_notified, connect

def test_comment_notifies_author(author, post):
    post.comments.create(...)
    assert_notified(author, verb="commented")
"""

from __future__ import annotations

import json
from typing import Any

from channels.testing import WebsocketCommunicator

from notifications.models import Notification

__all__ = ["assert_not_notified", "assert_notified", "connect", "receive_frame"]


def assert_notified(user: Any, **fields: Any) -> Notification:
    """Assert the user has a notification matching `fields` (model field lookups); return the newest."""
    found = Notification.objects.filter(recipient_id=user.pk, **fields).order_by("-seq").first()
    if found is None:
        have = list(
            Notification.objects.filter(recipient_id=user.pk)
            .order_by("-seq")
            .values("verb", "title")[:5]
        )
        raise AssertionError(f"No notification for {user} matching {fields}; newest: {have}")
    return found


def assert_not_notified(user: Any, **fields: Any) -> None:
    """Assert the user has no notification matching `fields`."""
    if Notification.objects.filter(recipient_id=user.pk, **fields).exists():
        raise AssertionError(f"Unexpected notification for {user} matching {fields}")


async def connect(
    application: Any,
    user: Any,
    *,
    path: str = "/ws/notifications/",
    origin: str | None = "http://testserver",
    wait: float = 1,
) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    """Open a socket as `user` (bypassing the session); return it with its `welcome` frame.

    The default Origin is Django's test host, which the test runner adds to ALLOWED_HOSTS.
    `wait` bounds the handshake and the wait for the welcome, in seconds.
    """
    headers = [(b"origin", origin.encode())] if origin else []
    communicator = WebsocketCommunicator(application, path, headers=headers)
    communicator.scope["user"] = user
    connected, _ = await communicator.connect(timeout=wait)
    if not connected:
        raise AssertionError(f"The socket for {user} was refused")
    welcome = await receive_frame(communicator, wait=max(wait, 2))
    if welcome.get("type") != "welcome":
        raise AssertionError(f"Expected a welcome frame, got {welcome}")
    return communicator, welcome


async def receive_frame(communicator: WebsocketCommunicator, wait: float = 2) -> dict[str, Any]:
    """The next frame, decoded."""
    frame: dict[str, Any] = json.loads(await communicator.receive_from(timeout=wait))
    return frame
