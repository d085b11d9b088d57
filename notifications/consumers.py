"""The WebSocket consumer: protocol in, api calls, protocol out.

Pushing a notification to a socket runs no SQL: the frame arrives encoded (from the process's Redis
fan-out, hub.py, or from the channel layer) and is sent as is. SQL runs only on connect
(catch-up), on client commands, and when a push shows a gap in seq or the process's sync pass finds
the socket behind (a push was lost: the gap is filled from the database).

Everything sent after the welcome goes through one queue per socket, drained by a task of the socket
in order, so a fan-out only appends and never waits for a socket (or for its catch-up's query). A
socket whose backlog (that queue plus what daphne holds unsent) passes MAX_BACKLOG_BYTES is closed with
4001, and one whose session ended (hub.Hub checks them, sessions.py) with 4401.

The consumer's other jobs have modules of their own: the connect's trip to the database (signin.py),
the client's frames (client_frames.py), the channel layer when it carries delivery
(layer_membership.py), and what it needs of daphne and of cancelled receives (wire.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, cast
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer

from notifications import hub as hub_module
from notifications import logs, presence, protocol, sessions
from notifications.client_frames import CLIENT_SYNC, ClientFrames, TokenBucket
from notifications.conf import app_settings
from notifications.layer_membership import (
    DEFAULT_GROUP_EXPIRY,
    LAYER_RETRY_DELAY,
    LayerMembership,
    group_refresh_interval,
)
from notifications.redis_fanout import redis_fanout
from notifications.signin import Loaded, read_inbox, sign_ins
from notifications.wire import CANCEL_GRACE, daphne_transport, reap, retrieve, unsent_bytes

__all__ = [
    "CANCEL_GRACE",
    "DEFAULT_GROUP_EXPIRY",
    "LAYER_RETRY_DELAY",
    "NotificationConsumer",
    "group_refresh_interval",
]

logger = logging.getLogger("notifications.consumers")

# Queue entries of the consumer's own (never sent between processes; CLIENT_SYNC: client_frames.py).
_RESYNC = "notifications.resync"  # catch up from what was sent
_CLOSE = "notifications.close"  # close the socket with `code`, after what is queued before it


class _OverCap(Exception):
    """The user has MAX_CONNECTIONS_PER_USER sockets open already."""


class NotificationConsumer(ClientFrames, LayerMembership, AsyncWebsocketConsumer):  # type: ignore[misc]
    user: Any
    group: str
    sent_seq: int
    session: sessions.SessionRef | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # AsyncConsumer.__call__, except that the channel layer is used only when it carries
        # delivery, and that whatever way the socket ends (close, a handler raising, the server
        # cancelling it on shutdown) its tasks and its place in the hub go with it.
        self.scope = scope
        self.base_send = send
        self.queue: deque[dict[str, Any]] = deque()
        self.queued_bytes = 0
        self.closing = False
        self.wire = daphne_transport(send)
        self.drainer: asyncio.Task[None] | None = None
        self.refresher: asyncio.Task[None] | None = None
        self.left = False
        self.hub: hub_module.Hub | None = None
        self.ready = False
        self.resync_queued = False
        self.channel_layer = None
        sources = [receive]
        if redis_fanout() is None:
            self.channel_layer = get_channel_layer(app_settings.CHANNEL_LAYER)
            if self.channel_layer is not None:
                self.channel_name = await self.channel_layer.new_channel()
                sources.append(self._receive_from_layer)
        try:
            await self._dispatch_from(sources)
        except StopConsumer:
            pass
        finally:
            await self._end()

    async def _dispatch_from(self, sources: list[Any]) -> None:
        # channels' await_many_dispatch, except that the way out does not wait without end for the
        # cancelled receives: channels-redis holds a cancelled receive() for its blocking read, or
        # longer when Redis stalls, and daphne closes a socket whose handler raised (1011) only once
        # the application has returned.
        tasks = [asyncio.ensure_future(source()) for source in sources]
        try:
            while True:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for i, task in enumerate(tasks):
                    if task.done():
                        await self.dispatch(task.result())
                        tasks[i] = asyncio.ensure_future(sources[i]())
        finally:
            for task in tasks:
                task.cancel()
                # Whatever a receive that outlives the grace ends with is retrieved, not logged.
                task.add_done_callback(retrieve)
            await asyncio.wait(tasks, timeout=CANCEL_GRACE)
            for task in tasks:
                if not task.done():
                    reap(task)

    async def _end(self) -> None:
        # Runs once the socket is over, however it ended: disconnect() does not run when a handler
        # raised or daphne cancelled the application after its close timeout. (On SIGTERM daphne
        # exits without waiting for the group_discard: the membership expires with group_expiry.)
        if getattr(self, "counted", False):
            presence.disconnected(self.user.pk)
            self.counted = False
        if self.hub is not None:
            self.hub.leave(self)
            self.hub = None
        self.ready = False
        self.queue.clear()
        self.queued_bytes = 0
        refresher = self.refresher
        for task in (self.drainer, refresher):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        if self.channel_layer is not None and hasattr(self, "group") and not self.left:
            self.left = True
            if refresher is not None and refresher is not asyncio.current_task():
                # A re-join in flight would reach Redis after the discard, and keep the channel.
                await asyncio.wait({refresher}, timeout=CANCEL_GRACE)
                if not refresher.done():
                    reap(refresher)
            # A dead channel left in the group makes the layer queue the user's messages for it.
            try:
                await self._on_layer("group_discard")
            except Exception as exc:
                # The membership expires with the layer's group_expiry (minutes with
                # notifications.layers.redis_channel_layer()).
                logs.warn_once(
                    logger,
                    "group_discard",
                    "Could not leave the group of a closed socket (%s: %s); it expires with the "
                    "layer's group_expiry.",
                    type(exc).__name__,
                    exc,
                )

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        # Leave now, not after the wait for the cancelled receives (up to CANCEL_GRACE).
        await self._end()
        raise StopConsumer()

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
        self.sent_seq = 0
        self.bucket = TokenBucket(app_settings.RATE_LIMIT_PER_SECOND, app_settings.RATE_LIMIT_BURST)
        self.strikes = 0
        since: int | None = None
        since_error: protocol.ProtocolError | None = None
        raw = parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get("since")
        if raw:
            try:
                since = protocol.parse_since(raw[-1])
            except protocol.ProtocolError as exc:
                since_error = exc
        try:
            loaded = await self._open(since)
        except _OverCap:
            # MAX_CONNECTIONS_PER_USER: accepted first, as daphne closes with a code only after it.
            self.closing = True  # frames the client sends meanwhile are dropped
            await self.accept()
            await self.close(code=protocol.CLOSE_TOO_MANY_CONNECTIONS)
            return
        except Exception as exc:
            # Redis or the database is down: refuse the handshake (HTTP 403) rather than accept a
            # socket that cannot be served; the client retries with backoff.
            logs.warn_once(
                logger,
                f"connect:{type(exc).__name__}",
                "Refused a WebSocket handshake: %s: %s",
                type(exc).__name__,
                exc,
            )
            await self.close()
            return
        if loaded is None:
            await self.close()  # before accept: the handshake is refused with HTTP 403
            return
        await self.accept()
        await self._send_loaded(loaded, welcome=True)  # `welcome` is always the first frame
        if since_error is not None:
            await self._error(since_error.code, since_error.message)
        self.ready = True
        self._drain_soon()
        if self.channel_layer is not None:
            self.refresher = asyncio.create_task(self._refresh_membership())

    async def _open(self, since: int | None) -> Loaded | None:
        """Who the user is, the socket in its group, the inbox read; None if the user may not connect.

        Whatever commits while the inbox is read is in the read or arrives as a push (queued until
        the welcome and replay are sent), and pushes at or below sent_seq are dropped.
        """
        hub = hub_module.hub()
        user = self.scope.get("user")
        if not isinstance(user, sessions.DeferredUser):  # AuthMiddlewareStack, or a test's scope
            if user is None or not user.is_authenticated:
                return None
            others = 0
            if app_settings.MAX_CONNECTIONS_PER_USER is not None:
                counted = await database_sync_to_async(presence.elsewhere)([user.pk])
                others = counted.get(user.pk, 0)
            self._admit(user, sessions.ref_from_scope(self.scope), others)
            return await self._join_then_read(hub, since)
        key = self.scope["session"].session_key
        if self.channel_layer is not None:
            # The layer's group_add needs the group before the inbox read: a trip of its own.
            signed_in, _ = await sign_ins().run(key, since, read=False)
            if signed_in is None:
                return None
            self._admit(*signed_in)
            return await self._join_then_read(hub, since)
        # One trip to the database for the session, the user and the inbox. The group is known only
        # after it: the hub keeps what it fans out meanwhile and hands this socket its group's share
        # when it joins.
        await hub.subscribed_to_all()
        mark = hub.hold()
        try:
            signed_in, loaded = await sign_ins().run(key, since, read=True)
            if signed_in is None:
                hub.release(mark)
                return None
            self._admit(*signed_in)
        except BaseException:
            hub.release(mark)
            raise
        self.hub = hub
        hub.join(self, mark)
        return loaded

    async def _join_then_read(self, hub: hub_module.Hub, since: int | None) -> Loaded:
        self.hub = hub
        hub.join(self)  # first: see _open()
        await hub.subscribed_for(self.group)
        if self.channel_layer is not None:
            await self._on_layer("group_add")
        return cast(Loaded, await database_sync_to_async(read_inbox)(self.user, since))

    def _admit(self, user: Any, session: sessions.SessionRef | None, elsewhere: int) -> None:
        """The socket is the user's from now on; _OverCap past MAX_CONNECTIONS_PER_USER."""
        if not presence.admit(user.pk, elsewhere):
            raise _OverCap
        self.scope["user"] = self.user = user
        self.counted = True  # until _end(), which runs however the socket ends
        self.group = protocol.user_group(user.pk)
        self.session = session
        self.session_tag = None if session is None else protocol.session_tag(session.key)

    # The socket's queue: pushes, frames, and catch-ups, in order.

    def offer(self, message: dict[str, Any]) -> None:
        """Queue a channel-layer message for this socket (called by the hub's fan-out); never waits."""
        kind = message["type"]
        if self.closing:
            return
        if kind == protocol.LAYER_REVALIDATE:
            if message.get("session") in (None, self.session_tag) and self.hub is not None:
                self.hub.revalidate_soon(self)
            return
        if kind == protocol.LAYER_LOGOUT:
            if message.get("session") in (None, self.session_tag):
                self._close_soon(protocol.CLOSE_LOGGED_OUT)
            return
        self.queue.append(message)
        self.queued_bytes += len(message.get("frame", ""))
        if self.queued_bytes + unsent_bytes(self.wire) > app_settings.MAX_BACKLOG_BYTES:
            # A client that stopped reading: its backlog would grow in this process until the ping
            # timeout. It reconnects with ?since= and catches up from the database.
            self._close_soon(protocol.CLOSE_RECONNECT)
            return
        self._drain_soon()

    def end_session(self, verdict: str) -> None:
        """The session check's verdict (hub.Hub): ENDED closes with 4401, CHANGED reconnects."""
        if verdict == sessions.CHANGED:
            self._close_soon(protocol.CLOSE_RECONNECT)
        else:
            self._close_soon(protocol.CLOSE_LOGGED_OUT)

    def _close_soon(self, code: int) -> None:
        # Whatever was queued is dropped: a closed client catches up from the database.
        self.closing = True
        self.queue.clear()
        self.queued_bytes = 0
        self.queue.append({"type": _CLOSE, "code": code})
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
                self.queued_bytes -= len(message.get("frame", ""))
                try:
                    await self._apply(message)
                except Exception as exc:
                    logs.warn_once(
                        logger,
                        f"deliver:{type(exc).__name__}",
                        "Could not deliver %s to a socket (%s: %s); it syncs on the next pass.",
                        message["type"],
                        type(exc).__name__,
                        exc,
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
                await self._catch_up(self.sent_seq)
                if seq <= self.sent_seq:
                    return
            await self.send(text_data=message["frame"])
            self.sent_seq = seq
        elif kind == protocol.LAYER_FRAME:
            await self.send(text_data=message["frame"])
        elif kind == _CLOSE:
            self.ready = False
            self.queue.clear()
            await self.close(code=message["code"])
        elif kind == _RESYNC:
            self.resync_queued = False
            await self._catch_up(self.sent_seq)
        elif kind == CLIENT_SYNC:
            self.sent_seq = min(self.sent_seq, message["since"])
            await self._catch_up(message["since"])

    # Catch-up.

    async def _catch_up(self, since: int | None) -> None:
        await self._send_loaded(
            await database_sync_to_async(read_inbox)(self.user, since), welcome=False
        )

    async def _send_loaded(self, loaded: Loaded, *, welcome: bool) -> None:
        (unread, unseen), last_seq, rows, reset = loaded
        if welcome:
            await self.send(text_data=protocol.welcome_frame(unread, last_seq, unseen))
        if reset:
            await self.send(text_data=protocol.reset_frame(unread, last_seq, unseen))
        else:
            for seq, frame in rows:
                await self.send(text_data=frame)
                self.sent_seq = max(self.sent_seq, seq)
        self.sent_seq = max(self.sent_seq, last_seq)
