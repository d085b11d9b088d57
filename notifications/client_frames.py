"""Frames from the client: the size and rate limits, then one api call per command.

What a command changes (a `read` frame, say) reaches the socket through the user's group like every
other frame, and `sync` queues a catch-up; only `ping` and errors are answered here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async

from notifications import api, protocol
from notifications.conf import app_settings
from notifications.exceptions import InvalidNotification, NotificationNotFound

logger = logging.getLogger("notifications.consumers")

# A queue entry of the consumer's own (never sent between processes): the client's `sync` command.
CLIENT_SYNC = "notifications.client_sync"


class TokenBucket:
    """Frames a client may send: `rate` a second, `burst` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class ClientFrames:
    """The client's frames of a socket (a mixin of NotificationConsumer)."""

    user: Any
    closing: bool
    bucket: TokenBucket
    strikes: int
    send: Callable[..., Awaitable[None]]
    close: Callable[..., Awaitable[None]]
    offer: Callable[[dict[str, Any]], None]

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            # Frames the client sent before it saw our close frame: answering one would write to a
            # socket that is closing (autobahn raises), so they are dropped.
            return
        max_bytes = app_settings.MAX_FRAME_BYTES
        size = len(bytes_data or b"") if text_data is None else len(text_data)
        if text_data is not None and size * 4 > max_bytes:
            size = len(text_data.encode("utf-8"))
        if size > max_bytes:
            self.closing = True
            await self.close(code=protocol.CLOSE_TOO_BIG)
            return
        if not self.bucket.take():
            self.strikes += 1
            if self.strikes > app_settings.RATE_LIMIT_STRIKES:
                self.closing = True
                await self.close(code=protocol.CLOSE_TOO_MANY_FRAMES)
            else:
                await self._error(protocol.RATE_LIMITED, "Too many frames; slow down.")
            return
        if text_data is None:
            await self._error(protocol.BINARY_NOT_SUPPORTED, "Send JSON text frames.")
            return
        try:
            command = protocol.decode_client_frame(text_data, max_ids=app_settings.MAX_IDS)
            await self._run(command)
        except protocol.ProtocolError as exc:
            await self._error(exc.code, exc.message)
        except NotificationNotFound as exc:
            await self._error(protocol.NOT_FOUND, str(exc))
        except InvalidNotification as exc:
            await self._error(protocol.INVALID, str(exc))
        except Exception:
            logger.exception("Command failed for user %s", self.user.pk)
            await self._error(protocol.SERVER_ERROR, "The server failed; nothing was changed.")

    async def _run(self, command: protocol.Command) -> None:
        if command.type == protocol.PING:
            await self.send(text_data=protocol.PONG_FRAME)
        elif command.type == protocol.SYNC:
            self.offer({"type": CLIENT_SYNC, "since": command.since})
        elif command.type == protocol.MARK_READ:
            # The `read` frame reaches this socket through the user's group, like every other one.
            await database_sync_to_async(api.mark_read)(self.user, list(command.ids))
        elif command.type == protocol.MARK_ALL_READ:
            await database_sync_to_async(api.mark_all_read)(self.user)
        elif command.type == protocol.DELETE:
            await database_sync_to_async(api.delete)(self.user, list(command.ids))
        elif command.type == protocol.MARK_SEEN:
            await database_sync_to_async(api.mark_seen)(self.user, list(command.ids))
        elif command.type == protocol.ARCHIVE:
            await database_sync_to_async(api.archive)(self.user, list(command.ids))
        elif command.type == protocol.UNARCHIVE:
            await database_sync_to_async(api.unarchive)(self.user, list(command.ids))
        elif command.type == protocol.SNOOZE:
            until = command.until or api.snooze_until(command.preset, command.tz)
            await database_sync_to_async(api.snooze)(self.user, list(command.ids), until)

    async def _error(self, code: str, message: str) -> None:
        await self.send(text_data=protocol.error_frame(code, message))
