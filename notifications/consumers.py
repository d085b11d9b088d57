"""The WebSocket consumer: protocol in, api calls, protocol out.

Pushing a notification to a socket runs no SQL: the frame arrives encoded (from the process's Redis
fan-out, transport.py, or from the channel layer) and is sent as is. SQL runs only on connect
(catch-up), on client commands, and when a push shows a gap in seq or the process's sync pass finds
the socket behind (a push was lost: the gap is filled from the database).

Everything sent after the welcome goes through one queue per socket, drained by a task of the socket
in order, so a fan-out only appends and never waits for a socket (or for its catch-up's query). A
socket whose backlog (that queue plus what daphne holds unsent) passes MAX_BACKLOG_BYTES is closed with
4001, and one whose session ended (transport.Hub checks them, sessions.py) with 4401.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
import weakref
from collections import deque
from typing import Any, cast
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer

from notifications import api, logs, presence, protocol, sessions, transport
from notifications.conf import app_settings
from notifications.delivery import layer_limit
from notifications.exceptions import InvalidNotification, NotificationNotFound

logger = logging.getLogger("notifications.consumers")

DEFAULT_GROUP_EXPIRY = 86400
# Seconds between attempts of a socket to receive from a channel layer that failed.
LAYER_RETRY_DELAY = 2.0
# Seconds an ending socket waits for its cancelled receives before it returns without them.
CANCEL_GRACE = 1.0

# Queue entries of the consumer's own (never sent between processes).
_RESYNC = "notifications.resync"  # catch up from what was sent
_CLIENT_SYNC = "notifications.client_sync"  # the client's `sync` command
_CLOSE = "notifications.close"  # close the socket with `code`, after what is queued before it


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


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


# Strong references to the running _cancel_until_done() tasks (the loop keeps only weak ones).
_reapers: set[asyncio.Future[None]] = set()


async def _cancel_until_done(task: asyncio.Future[Any]) -> None:
    # A cancellation that meets redis-py's read timeout can be lost: the timeout turns it into a
    # TimeoutError, redis-py retries the read, and channels-redis's receive then blocks again, for
    # ever, as a reader of this process's channel. Asked again, it ends.
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_GRACE)


class _OverCap(Exception):
    """The user has MAX_CONNECTIONS_PER_USER sockets open already."""


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


def _daphne_transport(send: Any) -> Any:
    """The Twisted transport under daphne's ``send`` for one socket, or None on another server.

    daphne's ``send`` is ``partial(server.handle_reply, protocol)``; channels' session middleware wraps
    it in a method of an object that keeps it as ``real_send``.
    """
    for _ in range(8):
        if isinstance(send, functools.partial):
            return getattr(send.args[0], "transport", None) if send.args else None
        send = getattr(getattr(send, "__self__", None), "real_send", None)
        if send is None:
            return None
    return None


def _unsent_bytes(transport_: Any) -> int:
    """Bytes daphne holds for a socket that its client has not taken yet.

    Writing never waits under daphne: a client that stops reading grows Twisted's write buffer (and
    only that), unbounded, until the ping timeout.
    """
    total = 0
    while transport_ is not None:  # TLS wraps the TCP transport
        data = getattr(transport_, "dataBuffer", None)
        if isinstance(data, bytes):
            total += len(data) - int(getattr(transport_, "offset", 0))
            total += int(getattr(transport_, "_tempDataLen", 0))
        transport_ = getattr(transport_, "transport", None)
    return total


# What a socket reads from the database: (unread, unseen) counts, last seq, (seq, frame)s to replay,
# reset?
Loaded = tuple[tuple[int, int], int, list[tuple[int, str]], bool]
# A session that signed in: its user, what the socket remembers of it, and the user's sockets open in
# other processes (presence.elsewhere(), for MAX_CONNECTIONS_PER_USER).
SignedIn = tuple[Any, sessions.SessionRef, int]
SignInRequest = tuple[str | None, int | None, bool]  # session key, since, read the inbox?


def _read(user: Any, since: int | None, inbox: tuple[int, int, int] | None = None) -> Loaded:
    """The inbox (counts, last_seq) and the frames after `since`, or a reset past CATCH_UP_LIMIT."""
    # The inbox first: every seq up to its last_seq is committed, so the rows read next hold them.
    unread, unseen, last_seq = api.inbox_counts(user) if inbox is None else inbox
    counts = (unread, unseen)
    if since is None or since >= last_seq:
        # Nothing after `since` (a client that is up to date), or a client ahead of the server (a
        # reset): no rows to read.
        return counts, last_seq, [], since is not None and since > last_seq
    limit = app_settings.CATCH_UP_LIMIT
    rows = api.since(user, since, limit + 1)
    frames = [(n.seq, protocol.notification_frame(n)) for n in rows[:limit]]
    return counts, last_seq, frames, len(rows) > limit


def _sign_in_and_read(requests: list[SignInRequest]) -> list[tuple[SignedIn | None, Loaded | None]]:
    """Sign the sessions in and read the inboxes of those that asked: four queries for all (plus
    one per socket with rows to replay). Runs in the database thread."""
    sessions_in = sessions.sign_in({key for key, _, _ in requests if key})
    others = presence.elsewhere(user.pk for user, _ in sessions_in.values())
    signed_in = {
        key: (user, ref, others.get(user.pk, 0)) for key, (user, ref) in sessions_in.items()
    }
    wanted = [signed_in[key][0].pk for key, _, read in requests if read and key in signed_in]
    inboxes = api.inboxes(wanted) if wanted else {}
    results: list[tuple[SignedIn | None, Loaded | None]] = []
    for key, since, read in requests:
        found = signed_in.get(key) if key else None
        if found is None or not read:
            results.append((found, None))
        else:
            user = found[0]
            results.append((found, _read(user, since, inboxes.get(user.pk, (0, 0, 0)))))
    return results


class _SignIns:
    """The connects of one event loop waiting for their trip to the database. One trip runs at a
    time, and those that arrive meanwhile share the next: a storm of connects opens one database
    connection per trip, not per socket, and makes its four queries for all of them."""

    def __init__(self) -> None:
        self.waiting: list[tuple[SignInRequest, asyncio.Future[Any]]] = []
        self.runner: asyncio.Task[None] | None = None

    async def run(
        self, key: str | None, since: int | None, *, read: bool
    ) -> tuple[SignedIn | None, Loaded | None]:
        future: asyncio.Future[tuple[SignedIn | None, Loaded | None]]
        future = asyncio.get_running_loop().create_future()
        self.waiting.append(((key, since, read), future))
        if self.runner is None:
            self.runner = asyncio.create_task(self._trips())
        return await future

    async def _trips(self) -> None:
        batch: list[tuple[SignInRequest, asyncio.Future[Any]]] = []
        try:
            while self.waiting:
                batch, self.waiting = self.waiting, []
                requests = [request for request, _ in batch]
                try:
                    results = await database_sync_to_async(_sign_in_and_read)(requests)
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for (_, future), result in zip(batch, results, strict=True):
                        if not future.done():
                            future.set_result(result)
        finally:
            self.runner = None
            for _, future in [*batch, *self.waiting]:  # cancelled: the loop is closing
                future.cancel()


_sign_in_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _SignIns] = (
    weakref.WeakKeyDictionary()
)


def _sign_ins() -> _SignIns:
    loop = asyncio.get_running_loop()
    current = _sign_in_queues.get(loop)
    if current is None:
        current = _sign_in_queues[loop] = _SignIns()
    return current


class NotificationConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
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
        self.wire = _daphne_transport(send)
        self.drainer: asyncio.Task[None] | None = None
        self.refresher: asyncio.Task[None] | None = None
        self.left = False
        self.hub: transport.Hub | None = None
        self.ready = False
        self.resync_queued = False
        self.channel_layer = None
        sources = [receive]
        if transport.redis_fanout() is None:
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
                task.add_done_callback(_retrieve)
            await asyncio.wait(tasks, timeout=CANCEL_GRACE)
            for task in tasks:
                if not task.done():
                    reaper = asyncio.ensure_future(_cancel_until_done(task))
                    _reapers.add(reaper)
                    reaper.add_done_callback(_reapers.discard)

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
        for task in (self.drainer, self.refresher):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        if self.channel_layer is not None and hasattr(self, "group") and not self.left:
            self.left = True
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

    async def _on_layer(self, command: str) -> None:
        """The layer's group_add or group_discard of this socket, waiting at most PUBLISH_TIMEOUT.

        The wait includes the one for a place under layer_limit(): with Redis stalled, the commands
        in flight must not hold every place (and so every connect and close) for ever.
        """

        async def limited() -> None:
            async with layer_limit():
                await getattr(self.channel_layer, command)(self.group, self.channel_name)

        await asyncio.wait_for(limited(), app_settings.PUBLISH_TIMEOUT)

    async def _receive_from_layer(self) -> dict[str, Any]:
        # A layer that fails (Redis down) must not end the socket with a traceback: the socket stays
        # open, the process's sync pass heals what it misses, and the refresher re-joins the group.
        layer: Any = self.channel_layer
        while True:
            try:
                message: dict[str, Any] = await layer.receive(self.channel_name)
                return message
            except Exception as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # A layer that turned our cancellation into its own error: the socket is over.
                    raise asyncio.CancelledError from exc
                logs.warn_once(
                    logger,
                    "layer_receive",
                    "The channel layer failed under open sockets (%s: %s); they sync from the "
                    "database until it is back.",
                    type(exc).__name__,
                    exc,
                )
                await asyncio.sleep(LAYER_RETRY_DELAY)

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
        self.bucket = _TokenBucket(
            app_settings.RATE_LIMIT_PER_SECOND, app_settings.RATE_LIMIT_BURST
        )
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
        hub = transport.hub()
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
            signed_in, _ = await _sign_ins().run(key, since, read=False)
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
            signed_in, loaded = await _sign_ins().run(key, since, read=True)
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

    async def _join_then_read(self, hub: transport.Hub, since: int | None) -> Loaded:
        self.hub = hub
        hub.join(self)  # first: see _open()
        await hub.subscribed_for(self.group)
        if self.channel_layer is not None:
            await self._on_layer("group_add")
        return cast(Loaded, await database_sync_to_async(_read)(self.user, since))

    def _admit(self, user: Any, session: sessions.SessionRef | None, elsewhere: int) -> None:
        """The socket is the user's from now on; _OverCap past MAX_CONNECTIONS_PER_USER."""
        if not presence.admit(user.pk, elsewhere):
            raise _OverCap
        self.scope["user"] = self.user = user
        self.counted = True  # until _end(), which runs however the socket ends
        self.group = protocol.user_group(user.pk)
        self.session = session
        self.session_tag = None if session is None else protocol.session_tag(session.key)

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
                await self._on_layer("group_add")
                self.resync()
            except Exception as exc:
                logs.warn_once(
                    logger,
                    "group_add",
                    "Could not refresh the group membership of a socket (%s: %s); the next "
                    "refresh retries.",
                    type(exc).__name__,
                    exc,
                )
            await asyncio.sleep(interval)

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
        if self.queued_bytes + _unsent_bytes(self.wire) > app_settings.MAX_BACKLOG_BYTES:
            # A client that stopped reading: its backlog would grow in this process until the ping
            # timeout. It reconnects with ?since= and catches up from the database.
            self._close_soon(protocol.CLOSE_RECONNECT)
            return
        self._drain_soon()

    def end_session(self, verdict: str) -> None:
        """The session check's verdict (transport.Hub): ENDED closes with 4401, CHANGED reconnects."""
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
        elif kind == _CLIENT_SYNC:
            self.sent_seq = min(self.sent_seq, message["since"])
            await self._catch_up(message["since"])

    # Catch-up.

    async def _catch_up(self, since: int | None) -> None:
        await self._send_loaded(
            await database_sync_to_async(_read)(self.user, since), welcome=False
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

    # Channel-layer events (when the layer carries delivery): into the socket's queue.

    async def notifications_push(self, event: dict[str, Any]) -> None:
        self.offer(event)

    async def notifications_frame(self, event: dict[str, Any]) -> None:
        self.offer(event)

    async def notifications_logout(self, event: dict[str, Any]) -> None:
        self.offer(event)

    async def notifications_revalidate(self, event: dict[str, Any]) -> None:
        self.offer(event)

    # Client frames.

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
            self.offer({"type": _CLIENT_SYNC, "since": command.since})
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
