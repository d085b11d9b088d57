"""Live delivery: after-commit publishing to the recipients' groups.

Through the Redis fan-out (redis_fanout.py) when the channel layer is channels-redis (one PUBLISH per
500 messages per host), else through the channel layer (one ``group_send`` per message).

The database is the source of truth; this is only the fast path, and it never raises into the caller.
Whatever it fails to deliver, a client gets from the database on reconnect (catch-up by seq).

Sync callers (views, commands, workers) must not pay for a new event loop and a new Redis connection
per send, which is what a bare ``async_to_sync(group_send)`` costs outside a server. So:

- in a thread that a server's event loop runs through ``sync_to_async`` (views under daphne, consumers),
  the sends are queued to that loop, with that loop's connection pool;
- anywhere else, they are queued to one long-lived publisher loop in a daemon thread, whose connection
  pool lives as long as the process.

Either way the caller does not wait, one task per loop publishes the queue in order, and ``flush()``
(also run at exit) waits for it.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from asgiref.sync import SyncToAsync
from channels.layers import get_channel_layer

from notifications import protocol, redis_fanout
from notifications.conf import app_settings

logger = logging.getLogger("notifications.delivery")

Message = redis_fanout.Message


class _PublisherLoop:
    """One event loop in a daemon thread, started on first use and restarted after a fork."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        # The thread does not survive fork(); the child starts its own on first use.
        self._lock = threading.Lock()
        self._loop = None

    def get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="notifications-publisher", daemon=True
                )
                thread.start()
                self._loop = loop
            return self._loop


_publisher = _PublisherLoop()


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop that runs this thread through sync_to_async, if any (as async_to_sync finds it)."""
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    pid = getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None)
    if loop is not None and pid == os.getpid() and loop.is_running():
        return loop  # type: ignore[no-any-return]
    return None


#: How long a loop's publishing task waits for more after a publish that emptied its queue (s).
#: Sends made meanwhile only append (``scheduled`` is still set): no wake-up from the caller's thread
#: (a GIL hand-over to the publisher thread each time), and they leave in one publish. A sender
#: calling notify() in a loop otherwise pays for one wake-up and one publish per call. Shorter than
#: the gap between calls at moderate rates (5 ms at 200/s): a lone send still leaves at once.
LINGER = 0.002


class _Outbox:
    """What sync code sent to one event loop, published in order by one task of that loop.

    ``send()`` only appends and returns: a caller never waits for Redis, and messages that pile up
    while a publish is in flight, or in the ``LINGER`` after it, leave together in the next one (one
    pipeline per host).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.lock = threading.Lock()
        self.pending: deque[Message] = deque()
        self.flusher: asyncio.Task[None] | None = None
        self.scheduled = False
        self.idle = threading.Event()
        self.idle.set()

    def put(self, messages: Sequence[Message]) -> None:
        with self.lock:
            self.pending.extend(messages)
            self.idle.clear()
            if self.scheduled:
                return
            self.scheduled = True
        self.loop.call_soon_threadsafe(self._start)

    def _start(self) -> None:
        self.flusher = self.loop.create_task(self._flush())

    async def _flush(self) -> None:
        while True:
            with self.lock:
                batch = list(self.pending)
                self.pending.clear()
                if not batch:
                    self.scheduled = False
                    self.idle.set()
                    return
            try:
                await send_async(batch)
            except Exception:
                logger.exception("Live delivery failed; sockets catch up from the database.")
            with self.lock:
                caught_up = not self.pending
            if caught_up:
                await asyncio.sleep(LINGER)


_outboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Outbox] = (
    weakref.WeakKeyDictionary()
)
_outboxes_lock = threading.Lock()


def _outbox(loop: asyncio.AbstractEventLoop) -> _Outbox:
    with _outboxes_lock:
        box = _outboxes.get(loop)
        if box is None:
            box = _outboxes[loop] = _Outbox(loop)
        return box


def flush(timeout: float = 10.0) -> bool:
    """Wait until what sync code sent so far is published (or failed); False on timeout.

    Runs at exit, so a short-lived process (a management command) does not drop its last pushes.
    """
    deadline = time.monotonic() + timeout
    with _outboxes_lock:
        boxes = list(_outboxes.values())
    return all(
        box.loop.is_closed() or box.idle.wait(max(0.0, deadline - time.monotonic()))
        for box in boxes
    )


atexit.register(flush)


_limits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[int, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def layer_limit() -> asyncio.Semaphore:
    """The channel-layer commands this app may have in flight on the running event loop.

    One semaphore per loop, of ``PUBLISH_CONCURRENCY``, shared by concurrent fan-outs (views under
    daphne broadcasting at once) and by the consumers' group joins and leaves (a storm of connects
    or closes): redis-py caps the loop's Redis pool at 100 connections and raises past that.
    """
    return _loop_limit(app_settings.PUBLISH_CONCURRENCY)


def _loop_limit(size: int) -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    current = _limits.get(loop)
    if current is None or current[0] != size:
        current = (size, asyncio.Semaphore(size))
        _limits[loop] = current
    return current[1]


async def send_async(messages: Sequence[Message]) -> None:
    """Publish every message; log failures, never raise."""
    if not messages:
        return
    fanout = redis_fanout.redis_fanout()
    if fanout is not None:
        await redis_fanout.publish(fanout, messages)
    else:
        await _group_send(messages)


async def _group_send(messages: Sequence[Message]) -> None:
    """Group-send every message, ``PUBLISH_CONCURRENCY`` at a time.

    On the first failure the rest are dropped: a layer that is down or hanging would otherwise cost a
    timeout per message, and the database already holds everything for catch-up.
    """
    layer = get_channel_layer(app_settings.CHANNEL_LAYER)
    if layer is None:
        logger.warning("No channel layer %r: live delivery is off.", app_settings.CHANNEL_LAYER)
        return
    timeout = app_settings.PUBLISH_TIMEOUT
    step = app_settings.PUBLISH_CONCURRENCY
    limit = layer_limit()

    async def send_one(group: str, message: dict[str, Any]) -> None:
        async with limit:
            await asyncio.wait_for(layer.group_send(group, message), timeout)

    for start in range(0, len(messages), step):
        chunk = messages[start : start + step]
        results = await asyncio.gather(
            *(send_one(group, msg) for group, msg in chunk), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            logger.warning(
                "Live delivery failed (%s: %s); %d of %d messages not sent. "
                "Recipients get them from the database when they reconnect.",
                type(errors[0]).__name__,
                errors[0],
                len(messages) - start - (len(chunk) - len(errors)),
                len(messages),
            )
            return


def send(messages: Sequence[Message]) -> None:
    """``send_async`` for sync code, queued, without waiting. Never raises.

    On the event loop of the server that runs this thread (views under daphne), else on the
    process's publisher loop, whose connection pool lives as long as the process.
    """
    if not messages:
        return
    try:
        _outbox(_server_loop() or _publisher.get()).put(messages)
    except Exception:
        logger.exception("Live delivery failed; recipients get it from the database on reconnect.")


def notification_messages(notifications: Iterable[Any]) -> list[Message]:
    """One push per notification to its recipient's group, each frame encoded once."""
    return [
        (
            protocol.user_group(n.recipient_id),
            protocol.push_message(n.seq, protocol.notification_frame(n)),
        )
        for n in notifications
    ]


def frame_messages(frames: dict[Any, str]) -> list[Message]:
    """{user pk: frame text} -> messages to those users' groups."""
    return [
        (protocol.user_group(user_pk), protocol.frame_message(frame))
        for user_pk, frame in frames.items()
    ]


def logout_messages(user_pk: Any, session_key: str | None = None) -> list[Message]:
    """Close the user's sockets of that session (all of them when `session_key` is None) with 4401."""
    tag = None if session_key is None else protocol.session_tag(session_key)
    return [(protocol.user_group(user_pk), protocol.logout_message(tag))]


def revalidate_messages(user_pk: Any, session_key: str | None = None) -> list[Message]:
    """Make the user's sockets (of that session only, if given) check their session now."""
    tag = None if session_key is None else protocol.session_tag(session_key)
    return [(protocol.user_group(user_pk), protocol.revalidate_message(tag))]
