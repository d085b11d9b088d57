"""project.asgi with two hooks for tests of how sockets end (tests/test_socket_life.py, tests/faults).

- A text frame ``crash`` makes the consumer's handler raise, as a bug would.
- ``GET /probe/`` answers, as JSON, what this process still holds of its sockets: the hub's entries and
  the consumers' tasks; with ``?memory=1``, after a full collection, also daphne's closed WebSocket
  connections still alive and the blocks Python has allocated (a leak grows them; RSS also holds
  what a backlog left).

    daphne_factory(application="tests.probe_asgi:application")
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from typing import Any

# isort: split
from project.asgi import application as project_application  # sets Django up first

# isort: split

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from daphne.ws_protocol import WebSocketProtocol
from django.urls import path

from notifications import transport
from notifications.consumers import NotificationConsumer
from notifications.routing import RefuseWhenUnavailable


class CrashingConsumer(NotificationConsumer):
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data == "crash":
            raise RuntimeError("injected crash")
        await super().receive(text_data, bytes_data)


def held(*, memory: bool = False) -> dict[str, int]:
    """The sockets the hubs of this process hold, and the tasks of consumers still running."""
    tasks = [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "").startswith("NotificationConsumer.")
    ]
    figures = {
        "hub_sockets": sum(len(m) for hub in transport.hubs() for m in hub.sockets.values()),
        "consumer_tasks": len(tasks),
    }
    if memory:
        del tasks
        gc.collect()
        figures["closed_websockets"] = sum(
            isinstance(o, WebSocketProtocol) and o.state == WebSocketProtocol.STATE_CLOSED
            for o in gc.get_objects()
        )
        figures["allocated_blocks"] = sys.getallocatedblocks()
    return figures


async def probe(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["path"] != "/probe/":
        await project_application(scope, receive, send)
        return
    body = json.dumps(held(memory=scope["query_string"] == b"memory=1")).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


application = ProtocolTypeRouter(
    {
        "http": probe,
        "websocket": AllowedHostsOriginValidator(
            RefuseWhenUnavailable(
                AuthMiddlewareStack(
                    URLRouter([path("ws/notifications/", CrashingConsumer.as_asgi())])
                )
            )
        ),
    }
)
