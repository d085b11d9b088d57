"""The ASGI app the browser tests run under daphne: the demo project's app plus two test-only parts.

- Static files are served (the test settings run with DEBUG off, where the project serves none).
- ``GET /__e2e__/sockets`` answers ``{"open": n, "accepted": n, "attempts": n}``: the WebSockets this
  server process has accepted and not yet seen closed, all it has accepted, and every handshake it was
  asked for (refused ones too), counted from the ASGI messages themselves, so a test can check how many
  sockets a browser really holds and whether it tries to reconnect.
"""

from __future__ import annotations

import json
import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from project.asgi import application as project_application

Scope = dict[str, Any]
Message = dict[str, Any]

SOCKETS_PATH = "/__e2e__/sockets"


class SocketCounter:
    """Counts accepted WebSockets that are still open."""

    def __init__(self) -> None:
        self.open = 0
        self.accepted = 0
        self.attempts = 0

    def wrap(self, receive: Any, send: Any) -> tuple[Any, Any]:
        self.attempts += 1
        state = {"open": False}

        def closed() -> None:
            if state["open"]:
                state["open"] = False
                self.open -= 1

        async def counting_send(message: Message) -> None:
            if message["type"] == "websocket.accept" and not state["open"]:
                state["open"] = True
                self.open += 1
                self.accepted += 1
            elif message["type"] == "websocket.close":
                closed()
            await send(message)

        async def counting_receive() -> Message:
            message: Message = await receive()
            if message["type"] == "websocket.disconnect":
                closed()
            return message

        return counting_receive, counting_send


counter = SocketCounter()
_static = ASGIStaticFilesHandler(project_application)


async def application(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        counting_receive, counting_send = counter.wrap(receive, send)
        await project_application(scope, counting_receive, counting_send)
        return
    if scope["type"] == "http" and scope["path"] == SOCKETS_PATH:
        counts = {"open": counter.open, "accepted": counter.accepted, "attempts": counter.attempts}
        body = json.dumps(counts).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    await _static(scope, receive, send)
