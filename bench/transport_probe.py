"""Live-delivery probe: N sockets on one daphne; connects/s, broadcasts, single sends, GC pauses.

    PYTHONPATH=$PWD:$PWD/bench/gcprobe .venv/bin/python bench/transport_probe.py N [SINGLES]

Uses tests.settings with a fresh SQLite file and the Redis at $REDIS (default 127.0.0.1:6379/15, keys
and channels under a prefix of its own). Environment: ROUNDS (broadcasts, 3), CONC (connects at once,
50), PROFILE_CONNECT=1 / PROFILE_BROADCAST=1 (cProfile in daphne, written to $TMPDIR/probe-prof-<pid>.out).
Prints, per phase, wall time, daphne's CPU time, and its garbage collections over 5 ms.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from typing import Any

N = int(sys.argv[1])
SINGLES = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
ROUNDS = int(os.environ.get("ROUNDS", "3"))
DB = os.path.join(tempfile.gettempdir(), f"probe-{uuid.uuid4().hex[:6]}.sqlite3")
os.environ.update(
    DJANGO_SETTINGS_MODULE="tests.settings",
    NOTIFICATIONS_TEST_DB_NAME=DB,
    NOTIFICATIONS_TEST_REDIS_URL=os.environ.get("REDIS", "redis://127.0.0.1:6379/15"),
    NOTIFICATIONS_TEST_REDIS_PREFIX=f"probe{os.getpid()}",
)

import django  # noqa: E402

django.setup()

from asgiref.sync import sync_to_async  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from notifications import notify  # noqa: E402
from tests import servers  # noqa: E402

GC_OUT = os.path.join(tempfile.gettempdir(), f"probe-gc-{os.getpid()}.json")
PROFILE_OUT = os.path.join(tempfile.gettempdir(), f"probe-prof-{os.getpid()}.out")


def daphne_cpu(server: servers.DaphneServer) -> float:
    with open(f"/proc/{server.process.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def gc_since(t0: float) -> dict[str, Any]:
    try:
        with open(GC_OUT) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    slow = [(g, round(w, 1), round(c, 1)) for g, w, t, c in data["slow"] if t >= t0]
    return {
        "max_wall_ms": max((w for _, w, _ in slow), default=0),
        "max_cpu_ms": max((c for _, _, c in slow), default=0),
        "full": sum(1 for g, _, _ in slow if g == 2),
    }


def toggle_profile(server: servers.DaphneServer, flag: str) -> None:
    if os.environ.get(flag):
        os.kill(server.process.pid, signal.SIGUSR1)


async def run(server: servers.DaphneServer, users: list[Any], sessions: list[Any]) -> None:
    gate = asyncio.Semaphore(int(os.environ.get("CONC", "50")))

    async def open_socket(session: servers.Session) -> Any:
        async with gate:
            ws = await connect(
                server.ws_url,
                origin=server.origin,  # type: ignore[arg-type]
                additional_headers={"Cookie": session.header},
                open_timeout=120,
                max_queue=None,
                ping_interval=None,
            )
            assert json.loads(await ws.recv())["type"] == "welcome"
            return ws

    toggle_profile(server, "PROFILE_CONNECT")
    t0, start, cpu = time.time(), time.perf_counter(), daphne_cpu(server)
    sockets = await asyncio.gather(*(open_socket(s) for s in sessions))
    elapsed = time.perf_counter() - start
    toggle_profile(server, "PROFILE_CONNECT")
    print(
        f"connects: {N} in {elapsed:.2f} s = {N / elapsed:.0f}/s, "
        f"daphne CPU {(daphne_cpu(server) - cpu) * 1000 / N:.2f} ms each; GC {gc_since(t0)}"
    )
    for round_ in range(ROUNDS):
        await asyncio.sleep(1)
        if round_ == 1:
            toggle_profile(server, "PROFILE_BROADCAST")
        t0, start, cpu = time.time(), time.perf_counter(), daphne_cpu(server)
        sender = asyncio.ensure_future(
            sync_to_async(notify, thread_sensitive=False)(users, "broadcast")
        )
        arrivals: list[float] = []

        async def receive(ws: Any, arrivals: list[float]) -> None:
            frame = json.loads(await ws.recv())
            assert frame["type"] == "notification", frame
            arrivals.append(time.perf_counter())

        await asyncio.wait_for(asyncio.gather(*(receive(ws, arrivals) for ws in sockets)), 300)
        await sender
        if round_ == 1:
            toggle_profile(server, "PROFILE_BROADCAST")
        print(
            f"broadcast {N}: last socket {max(arrivals) - start:.3f} s, first "
            f"{min(arrivals) - start:.3f} s, daphne CPU {daphne_cpu(server) - cpu:.2f} s; "
            f"GC {gc_since(t0)}"
        )
    await asyncio.sleep(1)
    targets = [i % N for i in range(SINGLES)]
    expected: dict[int, int] = {}
    for i in targets:
        expected[i] = expected.get(i, 0) + 1

    async def drain(ws: Any, count: int) -> None:
        for _ in range(count):
            await ws.recv()

    def send_all() -> None:
        for i in targets:
            notify(users[i], "single")

    t0, start, cpu = time.time(), time.perf_counter(), daphne_cpu(server)
    sender = asyncio.ensure_future(sync_to_async(send_all, thread_sensitive=False)())
    await asyncio.wait_for(
        asyncio.gather(*(drain(sockets[i], k) for i, k in expected.items())), 600
    )
    elapsed = time.perf_counter() - start
    await sender
    print(
        f"singles: {SINGLES} in {elapsed:.2f} s = {SINGLES / elapsed:.0f}/s delivered, daphne CPU "
        f"{(daphne_cpu(server) - cpu) * 1000 / SINGLES:.3f} ms each; GC {gc_since(t0)}"
    )
    print(f"daphne RSS {server.rss_bytes() / 1e6:.0f} MB")
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


def main() -> None:
    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    user_model.objects.bulk_create(user_model(username=f"u{i}") for i in range(N))
    users = list(user_model.objects.order_by("pk"))
    sessions = servers.create_sessions(users)
    env = {"PROBE_OUT": GC_OUT, "PROBE_PROFILE": PROFILE_OUT}
    redis_url = os.environ["NOTIFICATIONS_TEST_REDIS_URL"]
    try:
        with servers.daphne_server(redis_url, env=env, db_name=DB) as server:
            asyncio.run(run(server, users, sessions))
    finally:
        os.unlink(DB)


if __name__ == "__main__":
    main()
