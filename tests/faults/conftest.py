"""The fault suite's harness: a redis-server of its own, daphne processes on it, and seq-checking clients.

Every scenario ends with the same four checks (``Scenario.assert_healthy``):

- every client saw every notification of its user exactly once, in seq order, after catch-up;
- nothing of a gone socket is left in Redis (group membership, queued messages) after the cleanup
  interval;
- the resident memory of each daphne process stayed bounded;
- no traceback in any daphne log.

The fault suite runs only when selected (``-m faults``: ``make test-faults``; .ci/run runs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from django.contrib.auth import get_user_model
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from notifications import anotify
from tests import servers

# NOTIFICATIONS of the daphne processes: re-joins every 2 s, so a socket's leftovers (a refresher task
# that outlived it) show within seconds instead of minutes.
# A client far behind catches up in full instead of getting `reset`.
SERVER_SETTINGS: dict[str, Any] = {"GROUP_REFRESH_INTERVAL": 2, "CATCH_UP_LIMIT": 5000}
# How long the servers may take to drop the state of a socket that is gone (its group membership).
CLEANUP_SECONDS = 10.0
# redis_channel_layer()'s group_expiry (five minutes) and message expiry (one minute), scaled to
# CLEANUP_SECONDS for the "layer" transport: a killed process's memberships, then its queue, must
# expire by themselves.
LAYER_EXPIRIES = {"group_expiry": 4, "expiry": 4}
# Once clean, Redis must stay clean this long: a leftover task would re-join within one refresh.
STAYS_CLEAN_SECONDS = 5.0
# Growth of a daphne process's resident memory over a scenario.
RSS_BOUND_BYTES = 40 * 1024 * 1024
# Most time for every client to be seq-complete once the fault is over.
CATCH_UP_SECONDS = 60.0


class SeqClient:
    """One browser tab: reconnects with ``?since=`` after any close and records every seq it gets.

    ``server`` may be swapped (a restarted daphne listens on another port); the next reconnect uses it.
    """

    def __init__(self, server: servers.DaphneServer, session: servers.Session, name: str) -> None:
        self.server = server
        self.session = session
        self.name = name
        self.seqs: list[int] = []
        self.resets = 0
        self.welcomed = 0
        self.connects = 0
        self.close_codes: list[int | None] = []
        self.reading = asyncio.Event()  # cleared: the client stops reading (TCP backpressure)
        self.reading.set()
        self.changed = asyncio.Event()
        self.ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"client {self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)

    @property
    def last_seq(self) -> int:
        return max(self.seqs, default=0)

    async def wait_for(self, last_seq: int, timeout: float = CATCH_UP_SECONDS) -> None:
        """Until this client has seen ``last_seq`` (fails after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while self.last_seq < last_seq:
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"{self.name}: seq {self.last_seq} of {last_seq} after {timeout} s "
                    f"({self.connects} connects, closes {self.close_codes[-5:]})"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)

    async def wait_connected(self, timeout: float = 30) -> None:
        """Until the first `welcome` (any frame) arrived."""
        deadline = time.monotonic() + timeout
        while not self.welcomed:
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.name} did not connect: {self.close_codes[-5:]}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)

    def assert_exactly_once(self, last_seq: int) -> None:
        assert self.resets == 0, f"{self.name}: {self.resets} reset frames"
        assert self.seqs == list(range(1, last_seq + 1)), (
            f"{self.name}: seqs {self._summary()} instead of 1..{last_seq}"
        )

    def _summary(self) -> str:
        dupes = sorted({s for s in self.seqs if self.seqs.count(s) > 1})
        missing = sorted(set(range(1, self.last_seq + 1)) - set(self.seqs))
        return f"(n={len(self.seqs)}, duplicates {dupes[:10]}, missing {missing[:10]})"

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            try:
                await self._session()
                backoff = 0.05
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                self.close_codes.append(getattr(exc, "code", None))
            # Full jitter, as the browser client does.
            await asyncio.sleep(random.uniform(0, backoff))
            backoff = min(backoff * 2, 1.0)

    async def _session(self) -> None:
        url = f"{self.server.ws_url}?since={self.last_seq}"
        async with connect(
            url,
            origin=self.server.origin,  # type: ignore[arg-type]
            additional_headers={"Cookie": self.session.header},
            open_timeout=10,
            max_queue=4,
        ) as ws:
            self.ws = ws
            self.connects += 1
            try:
                while True:
                    await self.reading.wait()
                    frame = json.loads(await ws.recv())
                    if frame["type"] == "notification":
                        self.seqs.append(frame["notification"]["seq"])
                    elif frame["type"] == "welcome":
                        self.welcomed += 1
                    elif frame["type"] == "reset":
                        self.resets += 1
                    self.changed.set()
            except ConnectionClosed as exc:
                self.close_codes.append(exc.rcvd.code if exc.rcvd else None)
            finally:
                self.ws = None


@dataclass
class Scenario:
    """A redis-server of the test's own, daphne processes on it, users with sessions, clients."""

    redis: servers.RedisServer
    stack: ExitStack
    transport: str = "auto"
    users: list[Any] = field(default_factory=list)
    sessions: list[servers.Session] = field(default_factory=list)
    daphnes: list[servers.DaphneServer] = field(default_factory=list)
    clients: list[SeqClient] = field(default_factory=list)
    rss_start: dict[int, int] = field(default_factory=dict)
    sent: int = 0

    def start_daphne(
        self, *, application: str = "project.asgi:application", **env: str
    ) -> servers.DaphneServer:
        server_settings = {**SERVER_SETTINGS, "TRANSPORT": self.transport}
        extra = {"NOTIFICATIONS_TEST_SETTINGS": json.dumps(server_settings), **env}
        if self.transport == "layer":
            extra.setdefault("NOTIFICATIONS_TEST_LAYER_OPTIONS", json.dumps(LAYER_EXPIRIES))
        server = self.stack.enter_context(
            servers.daphne_server(self.redis.url, env=extra, application=application)
        )
        self.daphnes.append(server)
        self.rss_start[server.port] = server.rss_bytes()
        return server

    async def add_users(self, count: int) -> None:
        def make() -> tuple[list[Any], list[servers.Session]]:
            model = get_user_model()
            start = len(self.users)
            model.objects.bulk_create(
                model(username=f"fault{i}") for i in range(start, start + count)
            )
            users = list(model.objects.filter(username__startswith="fault").order_by("pk"))[start:]
            return users, servers.create_sessions(users)

        users, sessions = await sync_to_async(make)()
        self.users += users
        self.sessions += sessions

    async def open_clients(self, server: servers.DaphneServer, per_user: int = 1) -> None:
        """``per_user`` clients (tabs) for every user, each with a session of its own user."""
        for i, session in enumerate(self.sessions):
            for tab in range(per_user):
                client = SeqClient(server, session, f"user{i}/tab{tab}")
                client.start()
                self.clients.append(client)
        await asyncio.gather(*(c.wait_connected() for c in self.clients))

    async def notify_all(self, count: int, *, body: str = "") -> None:
        """``count`` notifications for every user (one seq each per round), created here."""
        for _ in range(count):
            await anotify(self.users, "fault", title=f"#{self.sent + 1}", body=body)
            self.sent += 1

    def stream(self, count: int, *, body: str = "") -> asyncio.Task[None]:
        """``notify_all`` running in the background, while a fault is injected."""
        return asyncio.create_task(self.notify_all(count, body=body))

    async def wait_sent(self, count: int) -> None:
        """Until the stream has created ``count`` rounds."""
        while self.sent < count:
            await asyncio.sleep(0.02)

    async def wait_complete(self) -> None:
        await asyncio.gather(*(c.wait_for(self.sent) for c in self.clients))

    async def close_clients(self) -> None:
        await asyncio.gather(*(c.stop() for c in self.clients))

    def leftovers(self) -> dict[str, int]:
        """What Redis still holds: each key with its size (group: channels in it; queue: messages).

        Redis deletes a group's sorted set with its last member and a queue with its last message, so
        once every socket is gone and delivered, nothing at all is left.
        """
        client = redis.Redis.from_url(self.redis.url)
        try:
            sizes: dict[str, int] = {}
            for key in client.scan_iter():
                kind = client.type(key)
                size = (
                    client.zcard(key)
                    if kind == b"zset"
                    else client.llen(key)
                    if kind == b"list"
                    else 1
                )
                sizes[key.decode(errors="replace")] = int(size)
        finally:
            client.close()
        return {k: v for k, v in sizes.items() if v}

    async def assert_nothing_left(self) -> None:
        """Within CLEANUP_SECONDS Redis holds no membership or queue of a gone socket, and stays so."""
        deadline = time.monotonic() + CLEANUP_SECONDS
        while (left := self.leftovers()) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert not left, f"left in Redis {CLEANUP_SECONDS} s after every socket closed: {left}"
        # Absence over time has no event to await: look again after a refresh interval or two.
        await asyncio.sleep(STAYS_CLEAN_SECONDS)
        assert not (left := self.leftovers()), f"came back in Redis: {left}"

    def assert_rss_bounded(self, bound: int = RSS_BOUND_BYTES) -> None:
        for server in self.daphnes:
            if server.process.poll() is None:
                grown = server.rss_bytes() - self.rss_start[server.port]
                assert grown < bound, f"daphne on {server.port} grew by {grown / 2**20:.1f} MiB"

    def assert_clean_logs(self) -> None:
        for server in self.daphnes:
            servers.assert_clean_log(server)

    async def assert_healthy(self) -> None:
        """The four checks of every scenario, once the fault is over; every failing one is reported."""
        failures: list[str] = []

        async def check(name: str, step: Any) -> None:
            try:
                result = step()
                if asyncio.iscoroutine(result):
                    await result
            except AssertionError as exc:
                failures.append(f"[{name}] {str(exc)[:2000]}")

        async def exactly_once() -> None:
            await self.wait_complete()
            for client in self.clients:
                client.assert_exactly_once(self.sent)

        await check("exactly once", exactly_once)
        await check("rss", self.assert_rss_bounded)
        await self.close_clients()
        await check("redis", self.assert_nothing_left)
        await check("log", self.assert_clean_logs)
        assert not failures, "\n".join(failures)


@pytest.fixture
def transport() -> str:
    """The NOTIFICATIONS["TRANSPORT"] of a scenario (parametrize `transport` to run others)."""
    return "auto"


@pytest.fixture
async def scenario(
    transactional_db: None, settings: Any, transport: str
) -> AsyncIterator[Scenario]:
    """A Scenario on a redis-server of its own; this process publishes through the same Redis."""
    with ExitStack() as stack:
        redis_server = stack.enter_context(servers.redis_server())
        # The sender's layer prunes expired memberships at each group_send: same expiries as daphne.
        options = LAYER_EXPIRIES if transport == "layer" else {}
        settings.CHANNEL_LAYERS = {
            "default": servers.redis_layer_config(redis_server.url, **options)
        }
        settings.NOTIFICATIONS = {"TRANSPORT": transport}
        channel_layers.backends.clear()
        run = Scenario(redis=redis_server, stack=stack, transport=transport)
        try:
            yield run
        finally:
            await run.close_clients()
            channel_layers.backends.clear()


@contextlib.contextmanager
def stopped(process: Any) -> Iterator[None]:
    """SIGSTOP a process for the block (it holds its sockets but answers nothing), then SIGCONT."""
    os.kill(process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(process.pid, signal.SIGCONT)
