"""Live delivery between processes, the receiving side: one hub per server event loop.

The hub holds the sockets of its event loop by group, subscribes once per Redis host to the fan-out
channel (redis_fanout.py) and hands each (group, message) pair it hears to the sockets of that group.

Pub/sub is at-most-once. What it loses the database still has: each process checks its sockets
against the inbox rows every ``SYNC_INTERVAL`` seconds in one query, and right after each
(re)subscription, and tells the sockets that are behind to catch up. The hub also re-checks the
sessions its sockets were opened with (sessions.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import types
import weakref
from collections import defaultdict, deque
from collections.abc import Iterable
from typing import Any, Protocol

from channels.db import database_sync_to_async

from notifications import logs, protocol, sessions
from notifications.conf import app_settings
from notifications.gc_tuning import tune_gc
from notifications.redis_fanout import (
    Message,
    RedisFanout,
    _publishers,
    redis_fanout,
    sync_interval,
)

logger = logging.getLogger("notifications.transport")

# Inbox rows read per query by the sync pass (well under SQLite's and PostgreSQL's parameter limits).
SYNC_CHUNK = 10_000
# A subscription silent this long is pinged; unanswered for DEAD_AFTER, it is reconnected.
PING_AFTER = 10.0
DEAD_AFTER = 30.0
RECONNECT_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)
# A socket of a process whose subscription is not up yet waits this long for it before its welcome
# (the first sockets after a start); past it, the sync pass after the subscription heals the gap.
SUBSCRIBE_WAIT = 2.0
# A session that holds another password's hash is looked at again this much later before its sockets
# are closed: the request that changed the password may be about to cycle that session's key.
SESSION_GRACE = 0.5
# Sockets whose session is re-checked on request wait this long for others to check with (one query).
REVALIDATE_BATCH_WAIT = 0.05


class Socket(Protocol):
    """What the hub needs of a consumer."""

    group: str
    sent_seq: int
    session: sessions.SessionRef | None

    @property
    def user_pk(self) -> Any: ...

    def end_session(self, verdict: str) -> None:
        """Close the socket: its session ENDED (4401) or CHANGED (reconnect)."""

    def offer(self, message: dict[str, Any]) -> None:
        """Queue a channel-layer message for the socket; never waits."""

    def resync(self) -> None:
        """Queue a catch-up from the database."""


class Hub:
    """The sockets of one event loop by group, its Redis subscriptions and its sync pass."""

    def __init__(self) -> None:
        self.sockets: dict[str, set[Socket]] = {}
        self.fanout: RedisFanout | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.subscribed: list[asyncio.Event] = []
        self.started = False
        self.to_revalidate: set[Socket] = set()
        self.revalidator: asyncio.Task[None] | None = None
        # What was fanned out while sockets whose group is not known yet were reading the database
        # (hold()): held[0] is message number held_base; holds counts the sockets by their mark.
        self.held: deque[Message] = deque()
        self.held_base = 0
        self.holds: dict[int, int] = {}

    def join(self, socket: Socket, mark: int | None = None) -> None:
        """Add the socket to its group; with the mark of a hold(), offer it what its group got since."""
        self.sockets.setdefault(socket.group, set()).add(socket)
        if not self.started:
            self.start()
        if mark is not None:
            for group, message in itertools.islice(self.held, mark - self.held_base, None):
                if group == socket.group:
                    socket.offer(message)
            self.release(mark)

    def hold(self) -> int:
        """Keep what is fanned out from now on, for a socket that learns its group in the same trip to
        the database as it reads its inbox; join(socket, mark) or release(mark) ends the hold."""
        if not self.started:
            self.start()
        mark = self.held_base + len(self.held)
        self.holds[mark] = self.holds.get(mark, 0) + 1
        return mark

    def release(self, mark: int) -> None:
        if self.holds[mark] > 1:
            self.holds[mark] -= 1
        else:
            del self.holds[mark]
        oldest = min(self.holds, default=self.held_base + len(self.held))
        while self.held_base < oldest:
            self.held.popleft()
            self.held_base += 1

    async def subscribed_to_all(self) -> None:
        """Return once every subscription is up (at most SUBSCRIBE_WAIT s)."""
        if self.fanout is None:
            return
        waiting = [event.wait() for event in self.subscribed if not event.is_set()]
        if waiting:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waiting), SUBSCRIBE_WAIT)

    async def subscribed_for(self, group: str) -> None:
        """Return once the subscription that carries `group` is up (at most SUBSCRIBE_WAIT s)."""
        if self.fanout is None:
            return
        event = self.subscribed[self.fanout.shard(group)]
        if not event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), SUBSCRIBE_WAIT)

    def leave(self, socket: Socket) -> None:
        members = self.sockets.get(socket.group)
        if members is not None:
            members.discard(socket)
            if not members:
                del self.sockets[socket.group]
        self.to_revalidate.discard(socket)

    def start(self) -> None:
        self.started = True
        if app_settings.GC_TUNING:
            tune_gc()
        self.fanout = redis_fanout()
        if self.fanout is not None:
            for index in range(len(self.fanout.hosts)):
                self.subscribed.append(asyncio.Event())
                self.tasks.append(asyncio.create_task(self._listen(self.fanout, index)))
        self.tasks.append(asyncio.create_task(self._watch(sync_interval())))
        self.tasks.append(asyncio.create_task(self._watch_sessions()))

    async def stop(self) -> None:
        tasks = [*self.tasks, *([self.revalidator] if self.revalidator else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.tasks = []
        self.revalidator = None

    def deliver(self, group: str, message: dict[str, Any]) -> None:
        if self.holds:
            self.held.append((group, message))
        for socket in self.sockets.get(group, ()):
            socket.offer(message)

    def fan_out(self, data: bytes) -> None:
        try:
            pairs = protocol.unpack_fanout(data)
        except ValueError as exc:
            logger.warning("Ignored a message on the fan-out channel: %s", exc)
            return
        sockets = self.sockets
        if self.holds:
            self.held.extend(pairs)
        for group, message in pairs:
            members = sockets.get(group)
            if members:
                for socket in members:
                    socket.offer(message)

    async def _listen(self, fanout: RedisFanout, index: int) -> None:
        import redis.asyncio as aioredis

        failures = 0
        while True:
            client = fanout.client(index)
            pubsub: Any = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(fanout.channel)
                if failures:
                    logger.warning("Redis host %d is back: its sockets sync.", index)
                failures = 0
                self.subscribed[index].set()
                # Whatever was published before the subscription (or during an outage) is only in
                # the database now.
                await self.sync_pass(shard=index)
                await self._read(pubsub)
            except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as exc:
                self.subscribed[index].clear()
                if not failures:
                    logger.warning(
                        "Lost the subscription to Redis host %d (%s: %s); reconnecting. Its "
                        "sockets get nothing live until it is back, then sync from the database.",
                        index,
                        type(exc).__name__,
                        exc,
                    )
                failures += 1
            except Exception:
                # A bug, not an outage: keep the process subscribed all the same.
                self.subscribed[index].clear()
                logger.exception("The subscription to Redis host %d failed; reconnecting.", index)
                failures += 1
            finally:
                await asyncio.gather(pubsub.aclose(), client.aclose(), return_exceptions=True)
            await asyncio.sleep(RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS)) - 1])

    async def _read(self, pubsub: Any) -> None:
        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        heard = loop.time()
        pinged = False
        while True:
            message = await pubsub.get_message(timeout=1.0)
            now = loop.time()
            if message is not None:
                heard, pinged = now, False
                if message["type"] == "message":
                    self.fan_out(message["data"])
            elif now - heard > DEAD_AFTER:
                raise aioredis.ConnectionError(f"no answer to a ping in {DEAD_AFTER:.0f} s")
            elif now - heard > PING_AFTER and not pinged:
                await pubsub.ping()
                pinged = True

    async def _watch(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sync_pass()
            except Exception as exc:
                logs.warn_once(
                    logger,
                    "sync_pass",
                    "The sync pass failed (%s: %s); the next one retries.",
                    type(exc).__name__,
                    exc,
                )

    # Sessions: a socket lives only as long as the session it was opened with.

    def revalidate_soon(self, socket: Socket) -> None:
        """Check the socket's session now (a user or session changed), with any others asked for."""
        if socket.session is None:
            return
        self.to_revalidate.add(socket)
        if self.revalidator is None:
            self.revalidator = asyncio.create_task(self._revalidate_requested())

    async def _revalidate_requested(self) -> None:
        try:
            while self.to_revalidate:
                await asyncio.sleep(REVALIDATE_BATCH_WAIT)
                batch = list(self.to_revalidate)
                self.to_revalidate.clear()
                await self.revalidate(batch)
        except Exception as exc:
            self._revalidation_failed(exc)
        finally:
            self.revalidator = None

    async def _watch_sessions(self) -> None:
        while True:
            await asyncio.sleep(app_settings.SESSION_CHECK_INTERVAL)
            try:
                await self.revalidate(
                    [socket for members in list(self.sockets.values()) for socket in members]
                )
            except Exception as exc:
                self._revalidation_failed(exc)

    def _revalidation_failed(self, exc: Exception) -> None:
        logs.warn_once(
            logger,
            "revalidate",
            "Could not re-check the sessions of open sockets (%s: %s); the next pass retries.",
            type(exc).__name__,
            exc,
        )

    async def revalidate(self, candidates: Iterable[Socket]) -> None:
        """Close the sockets whose session is no longer valid (in two queries for all of them)."""
        by_ref: dict[sessions.SessionRef, list[Socket]] = defaultdict(list)
        for socket in candidates:
            if socket.session is not None:
                by_ref[socket.session].append(socket)
        if not by_ref:
            return
        verdicts = await database_sync_to_async(sessions.check)(list(by_ref))
        suspects = [ref for ref, verdict in verdicts.items() if verdict == sessions.MISMATCH]
        if suspects:
            await asyncio.sleep(SESSION_GRACE)
            again = await database_sync_to_async(sessions.check)(suspects)
            verdicts.update(
                (ref, sessions.ENDED if verdict == sessions.MISMATCH else verdict)
                for ref, verdict in again.items()
            )
        for ref, verdict in verdicts.items():
            if verdict != sessions.VALID:
                for socket in by_ref[ref]:
                    socket.end_session(verdict)

    async def sync_pass(self, *, shard: int | None = None) -> None:
        """Tell every socket (of one Redis host's groups) whose user's inbox moved on to catch up."""
        by_user: dict[Any, list[Socket]] = defaultdict(list)
        for group, members in list(self.sockets.items()):
            if shard is not None and self.fanout is not None and self.fanout.shard(group) != shard:
                continue
            for socket in members:
                by_user[socket.user_pk].append(socket)
        if not by_user:
            return
        last_seqs = await database_sync_to_async(_last_seqs)(list(by_user))
        for user_pk, sockets in by_user.items():
            last_seq = last_seqs.get(user_pk, 0)
            for socket in sockets:
                if socket.sent_seq < last_seq:
                    socket.resync()


def _last_seqs(user_pks: list[Any]) -> dict[Any, int]:
    from notifications.models import InboxState

    found: dict[Any, int] = {}
    for start in range(0, len(user_pks), SYNC_CHUNK):
        found.update(
            InboxState.objects.filter(user_id__in=user_pks[start : start + SYNC_CHUNK]).values_list(
                "user_id", "last_seq"
            )
        )
    return found


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub() -> Hub:
    """The hub of the running event loop (a server process has one)."""
    loop = asyncio.get_running_loop()
    current = _hubs.get(loop)
    if current is None:
        current = _hubs[loop] = Hub()
        close_with_loop(loop)
    return current


def hubs() -> Iterable[Hub]:
    return list(_hubs.values())


def close_with_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Stop the loop's hub and close its pools when the loop closes (tests make one loop per test)."""
    if getattr(loop, "_notifications_close_wrapped", False):
        return
    original = loop.close

    def close(self: asyncio.AbstractEventLoop) -> None:
        hub_ = _hubs.pop(self, None)
        publisher = _publishers.pop(self, None)
        if not self.is_running() and not self.is_closed():
            if hub_ is not None:
                self.run_until_complete(hub_.stop())
            if publisher is not None:
                self.run_until_complete(publisher.aclose())
        self.close = original  # type: ignore[method-assign]
        original()

    loop.close = types.MethodType(close, loop)  # type: ignore[method-assign]
    loop._notifications_close_wrapped = True  # type: ignore[attr-defined]
