"""The WebSocket consumer: protocol in, api calls, protocol out.

Pushing a notification to a socket runs no SQL: the frame arrives encoded from the channel layer and is
sent as is. SQL runs only on connect (catch-up), on client commands, and when a live push shows a gap in
seq (the layer dropped or reordered a message: the gap is filled from the database).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from notifications import api, protocol
from notifications.conf import app_settings
from notifications.delivery import layer_limit
from notifications.exceptions import InvalidNotification, NotificationNotFound

logger = logging.getLogger("notifications.consumers")

DEFAULT_GROUP_EXPIRY = 86400


def group_refresh_interval(layer: Any) -> float:
    """Seconds between re-joins of the user's group: well inside the layer's group_expiry.

    At most five minutes by default, so sockets also get back into their group soon after a Redis
    restart wiped the memberships (each re-join also catches up from the database).
    """
    configured = app_settings.GROUP_REFRESH_INTERVAL
    if configured is not None:
        return float(configured)
    expiry = getattr(layer, "group_expiry", DEFAULT_GROUP_EXPIRY) or DEFAULT_GROUP_EXPIRY
    return float(min(expiry / 2, 300))


class _TokenBucket:
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


class NotificationConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    user: Any
    group: str
    sent_seq: int

    async def dispatch(self, message: dict[str, Any]) -> None:
        # channels >= 4.2 hops to the database thread before every handler (aclose_old_connections),
        # which would put one thread hop on every push. Our handlers reach the database only through
        # database_sync_to_async, which closes stale connections itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # before accept: the handshake is refused with HTTP 403
            return
        self.user = user
        self.group = protocol.user_group(user.pk)
        self.sent_seq = 0
        self.bucket = _TokenBucket(
            float(app_settings.RATE_LIMIT_PER_SECOND), int(app_settings.RATE_LIMIT_BURST)
        )
        self.strikes = 0
        self.refresher: asyncio.Task[None] | None = None
        # Handlers run one at a time; the refresher task is the only other sender of notifications.
        self.send_lock = asyncio.Lock()
        # Join first, read the database second: whatever commits in between is in the read or
        # arrives as a push, and pushes at or below sent_seq are dropped.
        async with layer_limit():
            await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        since: int | None = None
        since_error: protocol.ProtocolError | None = None
        raw = parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get("since")
        if raw:
            try:
                since = protocol.parse_since(raw[-1])
            except protocol.ProtocolError as exc:
                since_error = exc
        await self._catch_up(since, welcome=True)  # `welcome` is always the first frame
        if since_error is not None:
            await self._error(since_error.code, since_error.message)
        self.refresher = asyncio.create_task(self._refresh_membership())

    async def disconnect(self, code: int) -> None:
        refresher = getattr(self, "refresher", None)
        if refresher is not None:
            refresher.cancel()
        if hasattr(self, "group"):
            async with layer_limit():
                await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _refresh_membership(self) -> None:
        # group_expiry counts from the last group_add: re-join so a long-lived socket keeps receiving,
        # then catch up whatever the layer lost meanwhile (a Redis restart loses every membership).
        interval = group_refresh_interval(self.channel_layer)
        # Spread the re-joins of sockets that connected together (after a deploy, say).
        await asyncio.sleep(interval * random.uniform(0.5, 1.0))
        while True:
            try:
                async with layer_limit():
                    await self.channel_layer.group_add(self.group, self.channel_name)
                async with self.send_lock:
                    await self._catch_up(self.sent_seq, welcome=False)
            except Exception:
                logger.warning(
                    "Could not refresh group membership of %s", self.group, exc_info=True
                )
            await asyncio.sleep(interval)

    # Catch-up.

    def _load(self, since: int | None) -> tuple[int, int, list[Any], bool]:
        # The inbox first: every seq up to its last_seq is committed, so the rows read next hold them.
        unread, last_seq = api.inbox(self.user)
        if since is None or since > last_seq:
            return unread, last_seq, [], since is not None
        limit = int(app_settings.CATCH_UP_LIMIT)
        rows = api.since(self.user, since, limit + 1)
        frames = [(n.seq, protocol.notification_frame(n)) for n in rows[:limit]]
        return unread, last_seq, frames, len(rows) > limit

    async def _catch_up(self, since: int | None, *, welcome: bool) -> None:
        unread, last_seq, rows, reset = await database_sync_to_async(self._load)(since)
        if welcome:
            await self.send(text_data=protocol.welcome_frame(unread, last_seq))
        if reset:
            await self.send(text_data=protocol.reset_frame(unread, last_seq))
        else:
            for seq, frame in rows:
                await self.send(text_data=frame)
                self.sent_seq = max(self.sent_seq, seq)
        self.sent_seq = max(self.sent_seq, last_seq)

    # Channel-layer events.

    async def notifications_push(self, event: dict[str, Any]) -> None:
        seq = event["seq"]
        if seq <= self.sent_seq:
            return
        async with self.send_lock:
            if seq > self.sent_seq + 1:
                await self._catch_up(self.sent_seq, welcome=False)
            if seq <= self.sent_seq:
                return
            await self.send(text_data=event["frame"])
            self.sent_seq = seq

    async def notifications_frame(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["frame"])

    async def notifications_logout(self, event: dict[str, Any]) -> None:
        await self.close(code=protocol.CLOSE_LOGGED_OUT)

    # Client frames.

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        max_bytes = int(app_settings.MAX_FRAME_BYTES)
        size = len(bytes_data or b"") if text_data is None else len(text_data)
        if text_data is not None and size * 4 > max_bytes:
            size = len(text_data.encode("utf-8"))
        if size > max_bytes:
            await self.close(code=protocol.CLOSE_TOO_BIG)
            return
        if not self.bucket.take():
            self.strikes += 1
            if self.strikes > int(app_settings.RATE_LIMIT_STRIKES):
                await self.close(code=protocol.CLOSE_TOO_MANY_FRAMES)
            else:
                await self._error(protocol.RATE_LIMITED, "Too many frames; slow down.")
            return
        if text_data is None:
            await self._error(protocol.BINARY_NOT_SUPPORTED, "Send JSON text frames.")
            return
        try:
            command = protocol.decode_client_frame(text_data, max_ids=int(app_settings.MAX_IDS))
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
            async with self.send_lock:
                self.sent_seq = min(self.sent_seq, command.since)
                await self._catch_up(command.since, welcome=False)
        elif command.type == protocol.MARK_READ:
            # The `read` frame reaches this socket through the user's group, like every other one.
            await database_sync_to_async(api.mark_read)(self.user, list(command.ids))
        elif command.type == protocol.MARK_ALL_READ:
            await database_sync_to_async(api.mark_all_read)(self.user)
        elif command.type == protocol.DELETE:
            await database_sync_to_async(api.delete)(self.user, list(command.ids))

    async def _error(self, code: str, message: str) -> None:
        await self.send(text_data=protocol.error_frame(code, message))
