"""The WebSocket consumer: protocol in, api calls, protocol out.

Pushing a notification to a socket runs no SQL: the frame arrives encoded (from the process's Redis
fan-out, transport.py, or from the channel layer) and is sent as is. SQL runs only on connect
(catch-up), on client commands, and when a push shows a gap in seq or the process's sync pass finds
the socket behind (a push was lost: the gap is filled from the database).

Everything sent after the welcome goes through one queue per socket, drained by a task of the socket
in order, so a fan-out only appends and never waits for a socket (or for its catch-up's query).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch

from notifications import api, presence, protocol, transport
from notifications.conf import app_settings
from notifications.delivery import layer_limit
from notifications.exceptions import InvalidNotification, NotificationNotFound

logger = logging.getLogger("notifications.consumers")

DEFAULT_GROUP_EXPIRY = 86400

# Queue entries of the consumer's own (never sent between processes).
_RESYNC = "notifications.resync"  # catch up from what was sent
_CLIENT_SYNC = "notifications.client_sync"  # the client's `sync` command


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

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # AsyncConsumer.__call__, except that the channel layer is used only when it carries
        # delivery, and that whatever way the socket ends (close, a handler raising, the server
        # cancelling it on shutdown) its tasks and its place in the hub go with it.
        self.scope = scope
        self.base_send = send
        self.queue: deque[dict[str, Any]] = deque()
        self.drainer: asyncio.Task[None] | None = None
        self.refresher: asyncio.Task[None] | None = None
        self.hub: transport.Hub | None = None
        self.ready = False
        self.resync_queued = False
        self.channel_layer = None
        sources = [receive]
        if transport.redis_fanout() is None:
            self.channel_layer = get_channel_layer(app_settings.CHANNEL_LAYER)
            if self.channel_layer is not None:
                self.channel_name = await self.channel_layer.new_channel()
                sources.append(functools.partial(self.channel_layer.receive, self.channel_name))
        try:
            await await_many_dispatch(sources, self.dispatch)
        except StopConsumer:
            pass
        finally:
            self._end()

    def _end(self) -> None:
        if getattr(self, "counted", False):
            presence.disconnected(self.user.pk)
            self.counted = False
        if self.hub is not None:
            self.hub.leave(self)
            self.hub = None
        self.ready = False
        self.queue.clear()
        for task in (self.drainer, self.refresher):
            if task is not None and task is not asyncio.current_task():
                task.cancel()

    async def dispatch(self, message: dict[str, Any]) -> None:
        # channels >= 4.2 hops to the database thread before every handler (aclose_old_connections),
        # which would put one thread hop on every push. Our handlers reach the database only through
        # database_sync_to_async, which closes stale connections itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    @property
    def user_pk(self) -> Any:
        return self.user.pk

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # before accept: the handshake is refused with HTTP 403
            return
        self.user = user
        self.group = protocol.user_group(user.pk)
        presence.connected(user.pk)  # counted until _end(), which runs however the socket ends
        self.counted = True
        self.sent_seq = 0
        self.bucket = _TokenBucket(
            app_settings.RATE_LIMIT_PER_SECOND, app_settings.RATE_LIMIT_BURST
        )
        self.strikes = 0
        # Join first, read the database second: whatever commits in between is in the read or
        # arrives as a push (queued until the welcome and replay are sent), and pushes at or below
        # sent_seq are dropped.
        self.hub = transport.hub()
        self.hub.join(self)
        await self.hub.subscribed_for(self.group)
        if self.channel_layer is not None:
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
        self.ready = True
        self._drain_soon()
        if self.channel_layer is not None:
            self.refresher = asyncio.create_task(self._refresh_membership())

    async def disconnect(self, code: int) -> None:
        if self.channel_layer is not None and hasattr(self, "group"):
            async with layer_limit():
                await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _refresh_membership(self) -> None:
        # group_expiry counts from the last group_add: re-join so a long-lived socket keeps receiving,
        # then catch up whatever the layer lost meanwhile (a Redis restart loses every membership).
        layer = self.channel_layer
        if layer is None:
            return
        interval = group_refresh_interval(layer)
        # Spread the re-joins of sockets that connected together (after a deploy, say).
        await asyncio.sleep(interval * random.uniform(0.5, 1.0))
        while True:
            try:
                async with layer_limit():
                    await layer.group_add(self.group, self.channel_name)
                self.resync()
            except Exception:
                logger.warning(
                    "Could not refresh group membership of %s", self.group, exc_info=True
                )
            await asyncio.sleep(interval)

    # The socket's queue: pushes, frames, and catch-ups, in order.

    def offer(self, message: dict[str, Any]) -> None:
        """Queue a channel-layer message for this socket (called by the hub's fan-out); never waits."""
        self.queue.append(message)
        self._drain_soon()

    def resync(self) -> None:
        """Queue a catch-up from the database (the sync pass found this socket behind)."""
        if not self.resync_queued:
            self.resync_queued = True
            self.offer({"type": _RESYNC})

    def _drain_soon(self) -> None:
        if self.ready and self.drainer is None and self.queue:
            self.drainer = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self.queue and self.ready:
                message = self.queue.popleft()
                try:
                    await self._apply(message)
                except Exception:
                    logger.warning(
                        "Could not deliver %s to a socket of user %s; it syncs on the next pass.",
                        message["type"],
                        self.user.pk,
                        exc_info=True,
                    )
        finally:
            self.drainer = None

    async def _apply(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == protocol.LAYER_PUSH:
            seq = message["seq"]
            if seq <= self.sent_seq:
                return
            if seq > self.sent_seq + 1:
                await self._catch_up(self.sent_seq, welcome=False)
                if seq <= self.sent_seq:
                    return
            await self.send(text_data=message["frame"])
            self.sent_seq = seq
        elif kind == protocol.LAYER_FRAME:
            await self.send(text_data=message["frame"])
        elif kind == protocol.LAYER_LOGOUT:
            self.ready = False
            self.queue.clear()
            await self.close(code=protocol.CLOSE_LOGGED_OUT)
        elif kind == _RESYNC:
            self.resync_queued = False
            await self._catch_up(self.sent_seq, welcome=False)
        elif kind == _CLIENT_SYNC:
            self.sent_seq = min(self.sent_seq, message["since"])
            await self._catch_up(message["since"], welcome=False)

    # Catch-up.

    def _load(self, since: int | None) -> tuple[int, int, list[Any], bool]:
        # The inbox first: every seq up to its last_seq is committed, so the rows read next hold them.
        unread, last_seq = api.inbox(self.user)
        if since is None or since > last_seq:
            return unread, last_seq, [], since is not None
        limit = app_settings.CATCH_UP_LIMIT
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

    # Channel-layer events (when the layer carries delivery): into the socket's queue.

    async def notifications_push(self, event: dict[str, Any]) -> None:
        self.offer(event)

    async def notifications_frame(self, event: dict[str, Any]) -> None:
        self.offer(event)

    async def notifications_logout(self, event: dict[str, Any]) -> None:
        self.offer(event)

    # Client frames.

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        max_bytes = app_settings.MAX_FRAME_BYTES
        size = len(bytes_data or b"") if text_data is None else len(text_data)
        if text_data is not None and size * 4 > max_bytes:
            size = len(text_data.encode("utf-8"))
        if size > max_bytes:
            await self.close(code=protocol.CLOSE_TOO_BIG)
            return
        if not self.bucket.take():
            self.strikes += 1
            if self.strikes > app_settings.RATE_LIMIT_STRIKES:
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
            self.offer({"type": _CLIENT_SYNC, "since": command.since})
        elif command.type == protocol.MARK_READ:
            # The `read` frame reaches this socket through the user's group, like every other one.
            await database_sync_to_async(api.mark_read)(self.user, list(command.ids))
        elif command.type == protocol.MARK_ALL_READ:
            await database_sync_to_async(api.mark_all_read)(self.user)
        elif command.type == protocol.DELETE:
            await database_sync_to_async(api.delete)(self.user, list(command.ids))

    async def _error(self, code: str, message: str) -> None:
        await self.send(text_data=protocol.error_frame(code, message))
