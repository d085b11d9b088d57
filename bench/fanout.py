#!/usr/bin/env python
"""Fan-out benchmark: one daphne process over Redis, N online users, real WebSocket clients.

Prints figures; it is not a test. See bench/README.md for how to run it and the last results.

    .venv/bin/python bench/fanout.py                 # 1000 online users
    .venv/bin/python bench/fanout.py --users 5000

It uses a throwaway SQLite database (or DATABASE_URL's database, which must exist and is migrated
and filled with bench users), flushes the Redis database given by --redis-url, starts
``daphne project.asgi:application`` with tests.settings on a free port, signs N users in (sessions
in the database), connects one socket per user, then measures:

- broadcast: one notify() to all N users from this process (a management command or worker, no
  server loop here), until every socket has it;
- single notify() calls: one notification per call, round-robin over the online users, until the
  sockets have them all (notifications/s, delivered);
- loss: notifications that did not reach their socket within the timeout;
- Redis connections opened by this process's notify() calls, and by everyone (Redis's counter);
- daphne's resident memory per idle socket.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1000, help="online users (default 1000)")
    parser.add_argument("--broadcasts", type=int, default=3, help="broadcasts to time")
    parser.add_argument("--singles", type=int, default=2000, help="single notify() calls")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
        help="a Redis database on 127.0.0.1 that may be flushed (default db 12)",
    )
    parser.add_argument("--connect-concurrency", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for delivery")
    return parser.parse_args()


def setup_django(args: argparse.Namespace) -> str:
    """Configure tests.settings for a bench database and the Redis layer; return the db name."""
    if os.environ.get("DATABASE_URL"):
        import dj_database_url

        db_name = dj_database_url.parse(os.environ["DATABASE_URL"])["NAME"]
    else:
        db_name = str(Path(tempfile.mkdtemp(prefix="notifications-bench-")) / "bench.sqlite3")
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["NOTIFICATIONS_TEST_DB_NAME"] = db_name
    os.environ["NOTIFICATIONS_TEST_REDIS_URL"] = args.redis_url
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return db_name


def prepare_users(count: int) -> tuple[list[Any], list[Any]]:
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session

    from notifications.models import InboxState, Notification
    from tests import servers

    users = get_user_model()
    Notification.objects.all().delete()
    InboxState.objects.all().delete()
    Session.objects.all().delete()
    users.objects.filter(username__startswith="bench").delete()
    users.objects.bulk_create(
        (users(username=f"bench{i:05d}") for i in range(count)), batch_size=1000
    )
    online = list(users.objects.filter(username__startswith="bench").order_by("pk"))
    return online, servers.create_sessions(online)


def redis_info(url: str) -> dict[str, Any]:
    import redis

    client = redis.Redis.from_url(url)
    try:
        return dict(client.info())
    finally:
        client.close()


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


# The clients run in a process of their own, so that receiving thousands of frames does not compete
# with notify() for this process's GIL. Times are time.monotonic(): one clock for both processes.


def clients_main(conn: Any, ws_url: str, origin: str, cookies: list[str], concurrency: int) -> None:
    asyncio.run(_clients(conn, ws_url, origin, cookies, concurrency))


async def _clients(
    conn: Any, ws_url: str, origin: str, cookies: list[str], concurrency: int
) -> None:
    from websockets.asyncio.client import connect

    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)
    sockets: list[Any] = [None] * len(cookies)
    arrivals: list[list[float]] = [[] for _ in cookies]
    seen: list[set[int]] = [set() for _ in cookies]
    duplicates = 0

    async def open_one(index: int, cookie: str) -> None:
        async with gate:
            ws = await connect(
                ws_url,
                origin=origin,  # type: ignore[arg-type]
                additional_headers={"Cookie": cookie},
                compression=None,
                open_timeout=120,
                ping_interval=None,
            )
            welcome = json.loads(await ws.recv())
            assert welcome["type"] == "welcome", welcome
            sockets[index] = ws

    async def read(index: int) -> None:
        nonlocal duplicates
        async for raw in sockets[index]:
            frame = json.loads(raw)
            if frame.get("type") == "notification":
                seq = frame["notification"]["seq"]
                if seq in seen[index]:
                    duplicates += 1
                seen[index].add(seq)
                arrivals[index].append(time.monotonic())

    start = time.monotonic()
    await asyncio.gather(*(open_one(i, c) for i, c in enumerate(cookies)))
    conn.send(("opened", time.monotonic() - start))
    readers = [asyncio.create_task(read(i)) for i in range(len(sockets))]
    while True:
        command, *params = await loop.run_in_executor(None, conn.recv)
        if command == "close":
            break
        expected, timeout = params
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(len(got) >= want for got, want in zip(arrivals, expected, strict=True)):
                break
            await asyncio.sleep(0.005)
        missing = sum(max(0, want - len(got)) for got, want in zip(arrivals, expected, strict=True))
        last = max(
            (
                got[want - 1]
                for got, want in zip(arrivals, expected, strict=True)
                if 0 < want <= len(got)
            ),
            default=None,
        )
        conn.send((last, missing, duplicates))
    for task in readers:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets if ws is not None), return_exceptions=True)
    conn.send(("closed",))


class Clients:
    """The client process: one socket per session; waits for deliveries on request."""

    def __init__(self, server: Any, sessions: list[Any], concurrency: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=clients_main,
            args=(child, server.ws_url, server.origin, [s.header for s in sessions], concurrency),
            daemon=True,
        )

    async def _recv(self) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, self.conn.recv)

    async def open(self) -> float:
        self.process.start()
        _, elapsed = await self._recv()
        return float(elapsed)

    async def wait_for(self, expected: list[int], seconds: float) -> tuple[float | None, int, int]:
        """Wait until socket i has expected[i] notifications: (last arrival, missing, duplicates)."""
        self.conn.send(("wait", expected, seconds))
        last, missing, duplicates = await self._recv()
        return last, missing, duplicates

    async def close(self) -> None:
        self.conn.send(("close",))
        await self._recv()
        self.process.join(30)


async def run(
    args: argparse.Namespace, db_name: str, online: list[Any], sessions: list[Any]
) -> dict[str, Any]:
    from notifications import notify
    from tests import servers

    loop = asyncio.get_running_loop()
    results: dict[str, Any] = {"users": args.users}
    connections_before = redis_info(args.redis_url)["total_connections_received"]
    with servers.daphne_server(args.redis_url, db_name=db_name) as server:
        await asyncio.sleep(1)
        rss_idle = server.rss_bytes()
        clients = Clients(server, sessions, args.connect_concurrency)
        connect_s = await clients.open()
        await asyncio.sleep(2)  # let daphne settle before reading its memory
        rss_open = server.rss_bytes()
        results["connect_per_s"] = args.users / connect_s
        results["rss_idle_mb"] = rss_idle / 2**20
        results["rss_per_socket_kb"] = (rss_open - rss_idle) / args.users / 1024
        expected = [0] * len(online)
        lost = duplicates = 0

        with servers.counting_redis_connections() as opened:
            # Broadcasts: one notify() to everyone, from a thread with no server loop.
            times, notify_times = [], []
            for _ in range(args.broadcasts):
                expected = [n + 1 for n in expected]
                start = time.monotonic()
                await loop.run_in_executor(None, lambda: notify(online, "broadcast"))
                notify_times.append(time.monotonic() - start)
                last, missing, duplicates = await clients.wait_for(expected, args.timeout)
                lost += missing
                if last is not None and not missing:
                    times.append(last - start)
            results["broadcast_s"] = statistics.median(times) if times else None
            results["broadcast_notify_call_s"] = statistics.median(notify_times)

            # Single notify() calls, one recipient each, round-robin over the online users.
            plan = [i % len(online) for i in range(args.singles)]
            for i in plan:
                expected[i] += 1

            def send_singles() -> None:
                for i in plan:
                    notify(online[i], "single")

            start = time.monotonic()
            await loop.run_in_executor(None, send_singles)
            calls_s = time.monotonic() - start
            last, missing, duplicates = await clients.wait_for(expected, args.timeout)
            lost += missing
            results["singles"] = args.singles
            results["singles_calls_per_s"] = args.singles / calls_s
            results["singles_delivered_per_s"] = (
                args.singles / (last - start) if last is not None and not missing else None
            )
            results["lost"] = lost
            results["duplicates"] = duplicates
            results["publisher_redis_connections"] = len(opened)
        await clients.close()
        await asyncio.sleep(3)  # let daphne run the consumers' disconnects before it is stopped
        results["daphne_log_errors"] = server.log().count("Traceback")
    connections_after = redis_info(args.redis_url)["total_connections_received"]
    results["redis_connections_all"] = connections_after - connections_before
    return results


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    def fmt(value: Any, pattern: str) -> str:
        return "n/a" if value is None else pattern.format(value)

    n = results["users"]
    rows = [
        ("online users (one socket each, one daphne process)", f"{n}"),
        ("connects/s (daphne, session auth, catch-up)", fmt(results["connect_per_s"], "{:.0f}")),
        (
            f"broadcast to {n} online users, until the last socket has it",
            fmt(results["broadcast_s"], "{:.3f} s"),
        ),
        (
            "  of which the notify() call (insert + publish)",
            fmt(results["broadcast_notify_call_s"], "{:.3f} s"),
        ),
        (
            f"single notify() calls ({results['singles']}), calls/s",
            fmt(results["singles_calls_per_s"], "{:.0f}"),
        ),
        (
            "single notify() calls, delivered to sockets /s",
            fmt(results["singles_delivered_per_s"], "{:.0f}"),
        ),
        ("notifications lost", f"{results['lost']}"),
        ("notifications received twice", f"{results['duplicates']}"),
        (
            "Redis connections opened by notify() (this process)",
            f"{results['publisher_redis_connections']}",
        ),
        (
            "Redis connections opened in all (daphne + this process)",
            f"{results['redis_connections_all']}",
        ),
        ("daphne RSS idle", fmt(results["rss_idle_mb"], "{:.1f} MiB")),
        ("daphne RSS per idle socket", fmt(results["rss_per_socket_kb"], "{:.1f} KiB")),
        ("tracebacks in the daphne log", f"{results['daphne_log_errors']}"),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"bench/fanout.py --users {n} ({time.strftime('%Y-%m-%d %H:%M %Z')})")
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")


def main() -> None:
    args = parse_args()
    db_name = setup_django(args)
    try:
        online, sessions = prepare_users(args.users)
        flush_redis(args.redis_url)
        results = asyncio.run(run(args, db_name, online, sessions))
    finally:
        if not os.environ.get("DATABASE_URL"):
            for suffix in ("", "-wal", "-shm"):
                Path(db_name + suffix).unlink(missing_ok=True)
            Path(db_name).parent.rmdir()
    report(results, args)


if __name__ == "__main__":
    main()
