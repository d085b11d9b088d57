"""Live delivery between processes: one Redis pub/sub subscription per server process.

A sender packs up to ``protocol.FANOUT_BATCH`` (group, message) pairs into one PUBLISH, pipelined, on
the Redis host that owns each group. Every server process subscribes once per host and hands each pair
to the sockets of that group it holds (``Hub``): no Redis round trip per delivered message, and no
channel-layer membership to join, refresh or leak.

The hosts are those of the ``CHANNEL_LAYER`` entry when it is channels-redis (one Redis configured
once); a group lives on the host channels-redis would put it on, so with several hosts the layer, the
senders and the servers agree. Any other layer (in-memory, or ``TRANSPORT = "layer"``) delivers
through ``group_send`` instead (see delivery.py), slower.

Pub/sub is at-most-once. What it loses the database still has: each process checks its sockets
against the inbox rows every ``SYNC_INTERVAL`` seconds in one query, and right after each
(re)subscription, and tells the sockets that are behind to catch up.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import gc
import itertools
import logging
import types
import weakref
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from channels.db import database_sync_to_async
from django.conf import settings

from notifications import logs, protocol, sessions
from notifications.conf import app_settings

if TYPE_CHECKING:
    import redis.asyncio as aioredis

logger = logging.getLogger("notifications.transport")
# Sending is delivery's business: its failures are logged where the channel layer's are.
send_logger = logging.getLogger("notifications.delivery")

Message = tuple[str, dict[str, Any]]

# SYNC_INTERVAL = None: the slow pass heals what Redis lost; the fast one is the only way a
# notification created in another process reaches a socket when the layer is in-memory.
SYNC_INTERVAL = 10.0
LOCAL_SYNC_INTERVAL = 1.5
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
# A young collection every 2000 allocations (CPython: 700) costs ~1 ms; larger ones grow past 20 ms.
GC_THRESHOLDS = (2_000, 10, 10)


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


@dataclass(frozen=True)
class RedisFanout:
    """The Redis hosts (connection keyword arguments) and the pub/sub channel of this project."""

    hosts: tuple[tuple[tuple[str, Any], ...], ...]
    channel: str

    def shard(self, group: str) -> int:
        return shard(group, len(self.hosts))

    def client(self, index: int, **overrides: Any) -> aioredis.Redis:
        # Imported here, not at the top: a project whose layer is not channels-redis never loads redis.
        import redis.asyncio as aioredis

        options = dict(self.hosts[index])
        url = options.pop("url")
        options.update(overrides)
        pool_class = options.pop("pool_class", aioredis.ConnectionPool)
        pool = pool_class.from_url(url, **options)
        return aioredis.Redis(connection_pool=pool)


def shard(group: str, ring_size: int) -> int:
    """The host of a group: channels-redis's own consistent hash, so the layer agrees."""
    if ring_size == 1:
        return 0
    bigval = binascii.crc32(group.encode("utf8")) & 0xFFF
    return int(bigval / (4096 / float(ring_size)))


def layer_config() -> dict[str, Any]:
    config: dict[str, Any] = (getattr(settings, "CHANNEL_LAYERS", None) or {}).get(
        app_settings.CHANNEL_LAYER
    ) or {}
    return config


def redis_fanout() -> RedisFanout | None:
    """The Redis fan-out of the configured layer, or None when the layer itself carries delivery."""
    if app_settings.TRANSPORT == "layer":
        return None
    config = layer_config()
    if not str(config.get("BACKEND", "")).startswith("channels_redis."):
        return None
    options = config.get("CONFIG") or {}
    hosts = [_host_options(host) for host in options.get("hosts") or [("localhost", 6379)]]
    if any(host is None for host in hosts):
        return None  # Sentinel: left to the layer
    prefix = str(options.get("prefix", "asgi"))
    return RedisFanout(
        tuple(tuple(sorted(h.items())) for h in hosts if h is not None),
        protocol.fanout_channel(prefix),
    )


def _host_options(host: Any) -> dict[str, Any] | None:
    # The host formats channels-redis accepts: a URL, (host, port), or a dict with "address".
    if isinstance(host, str):
        return {"url": host}
    if isinstance(host, list | tuple):
        return {"url": f"redis://{quote(str(host[0]))}:{int(host[1])}"}
    if isinstance(host, dict):
        if "master_name" in host or "sentinels" in host:
            return None
        options = dict(host)
        address = options.pop("address", None)
        if isinstance(address, list | tuple):
            address = f"redis://{quote(str(address[0]))}:{int(address[1])}"
        if address is None:
            address = f"redis://{options.pop('host', 'localhost')}:{options.pop('port', 6379)}"
        options["url"] = address
        return options
    raise TypeError(f"Unsupported channels-redis host: {host!r}")


def is_local_only() -> bool:
    """True when the configured layer cannot reach other processes (in-memory)."""
    return str(layer_config().get("BACKEND", "")).endswith("InMemoryChannelLayer")


def sync_interval() -> float:
    configured = app_settings.SYNC_INTERVAL
    if configured is not None:
        return float(configured)
    if redis_fanout() is None and is_local_only():
        return LOCAL_SYNC_INTERVAL
    return SYNC_INTERVAL


# Sending.


class _Publisher:
    """One blocking connection pool per host on one event loop (waits, never raises, when full)."""

    def __init__(self, fanout: RedisFanout) -> None:
        import redis.asyncio as aioredis

        self.fanout = fanout
        self.clients: list[aioredis.Redis] = []
        for index, host in enumerate(fanout.hosts):
            self.clients.append(
                fanout.client(
                    index,
                    pool_class=aioredis.BlockingConnectionPool,
                    max_connections=dict(host).get(
                        "max_connections", app_settings.PUBLISH_CONCURRENCY
                    ),
                    timeout=app_settings.PUBLISH_TIMEOUT,
                )
            )

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.clients), return_exceptions=True)


_publishers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Publisher] = (
    weakref.WeakKeyDictionary()
)


async def _publisher(fanout: RedisFanout) -> _Publisher:
    loop = asyncio.get_running_loop()
    current = _publishers.get(loop)
    if current is None or current.fanout != fanout:
        if current is not None:  # settings changed (tests): the old pools go
            await current.aclose()
        else:
            _close_with_loop(loop)
        current = _Publisher(fanout)
        _publishers[loop] = current
    return current


async def publish(fanout: RedisFanout, messages: Sequence[Message]) -> None:
    """PUBLISH the messages, packed, each host's batches in one pipeline; log failures, never raise."""
    by_host: dict[int, list[Message]] = defaultdict(list)
    for group, message in messages:
        by_host[fanout.shard(group)].append((group, message))
    publisher = await _publisher(fanout)
    timeout = app_settings.PUBLISH_TIMEOUT

    async def send_host(index: int, pairs: list[Message]) -> None:
        pipe = publisher.clients[index].pipeline(transaction=False)
        for start in range(0, len(pairs), protocol.FANOUT_BATCH):
            pipe.publish(
                fanout.channel, protocol.pack_fanout(pairs[start : start + protocol.FANOUT_BATCH])
            )
        await asyncio.wait_for(pipe.execute(), timeout)

    hosts = sorted(by_host)
    results = await asyncio.gather(
        *(send_host(index, by_host[index]) for index in hosts), return_exceptions=True
    )
    for index, result in zip(hosts, results, strict=True):
        if isinstance(result, Exception):
            send_logger.warning(
                "Live delivery failed on Redis host %d (%s: %s); %d of %d messages not sent. "
                "Their sockets catch up from the database.",
                index,
                type(result).__name__,
                result,
                len(by_host[index]),
                len(messages),
            )
        elif isinstance(result, BaseException):
            raise result


# Receiving: one hub per server event loop.


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
        _close_with_loop(loop)
    return current


def hubs() -> Iterable[Hub]:
    return list(_hubs.values())


def _close_with_loop(loop: asyncio.AbstractEventLoop) -> None:
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


_gc_tuned = False


def tune_gc() -> None:
    """Freeze what start-up allocated, so full collections stop scanning it, and collect less often.

    With thousands of sockets open, CPython's default thresholds make daphne run full collections of
    hundreds of thousands of objects (pauses of 100-600 ms); see docs/performance.md.
    """
    global _gc_tuned
    if _gc_tuned:
        return
    _gc_tuned = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
