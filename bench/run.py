#!/usr/bin/env python
"""Ours against a tutorial-style Channels app, in one run: same client, same Redis, same SQLite.

    .venv/bin/python bench/run.py                      # N = 1000 sockets + a 5000 broadcast, 3 rounds
    .venv/bin/python bench/run.py --quick              # N = 100, 1 round: what CI runs
    .venv/bin/python bench/run.py --users 500 --broadcast-users 0 --json /tmp/b.json

Each round runs both apps one after the other (the order alternates), each on a fresh SQLite file, a
flushed Redis database of its own, a fresh daphne process, a fresh sender process and fresh client
processes. Every figure is the median over rounds; every ratio is ours / tutorial per round, then the
median. bench/README.md says what each row measures and what each app does for it.

The exit status is 1 when a phase crashed (an exception, a socket that did not open in 3 attempts or
that the server closed, a traceback in daphne's log during the phases, a frame nobody expected) or
when ours lost or duplicated a notification. The tutorial app's losses are a figure, not a failure:
its channel layer is at-most-once and nothing replays.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: bench/ is on the path, not the repository

from tests.processes import HOST, free_port, stop, wait_listening  # noqa: E402

BIN = Path(sys.executable).parent
APPS: dict[str, dict[str, Any]] = {
    "ours": {"settings": "bench.ours_settings", "asgi": "project.asgi:application", "db": 13},
    "tutorial": {
        "settings": "bench.tutorial.settings",
        "asgi": "bench.tutorial.asgi:application",
        "db": 14,
    },
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--users", type=int, default=1000, help="sockets open (N), default 1000")
    parser.add_argument(
        "--broadcast-users",
        type=int,
        default=5000,
        help="sockets for the big broadcast row, default 5000 (0: skip it)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds, default 3")
    parser.add_argument("--singles", type=int, default=2000, help="single notify() calls flat out")
    parser.add_argument("--paced", type=int, default=1000, help="single notify() calls at --rate")
    parser.add_argument("--rate", type=float, default=200, help="calls/s of the paced phase")
    parser.add_argument("--apps", default="ours,tutorial", help="comma-separated, default both")
    parser.add_argument(
        "--quick", action="store_true", help="N=100, 200-socket broadcast, small counts, 1 round"
    )
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", f"redis://{HOST}:6379"),
        help="Redis on 127.0.0.1 without a database number; ours uses db 13, the tutorial db 14, "
        "and both are FLUSHED (--redis-dbs)",
    )
    parser.add_argument("--redis-dbs", default="13,14", help="ours,tutorial database numbers")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--connect-concurrency", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=120, help="longest wait for one phase")
    parser.add_argument(
        "--quiet",
        type=float,
        default=35,
        help="a phase ends after this many seconds without a frame (ours heals a lost push "
        "from the database: give it the time to)",
    )
    parser.add_argument(
        "--profile", type=Path, help="record py-spy profiles of daphne and the sender, round 1"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.broadcast_users, args.rounds = 100, 200, 1
        args.singles, args.paced = 200, 100
    ours_db, tutorial_db = (int(n) for n in args.redis_dbs.split(","))
    if 0 in {ours_db, tutorial_db}:
        parser.error("--redis-dbs: database 0 is never flushed by the benchmark")
    APPS["ours"]["db"], APPS["tutorial"]["db"] = ours_db, tutorial_db
    args.apps = [a for a in args.apps.split(",") if a]
    if set(args.apps) - set(APPS):
        parser.error(f"--apps: choose among {', '.join(APPS)}")
    return args


# Processes.


class Worker:
    """A child process that answers one JSON line per JSON line (bench/sender.py, bench/client.py)."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log_path = log
        self.log: IO[bytes] = log.open("wb")
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.pid = self.process.pid
        self.receive()  # {"ready": ...}

    def send(self, cmd: str, **params: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"cmd": cmd, **params}) + "\n")
        self.process.stdin.flush()

    def receive(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(10)
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.process.args} exited ({self.process.returncode}):\n{tail}")
        return json.loads(line)

    def call(self, cmd: str, **params: Any) -> Any:
        self.send(cmd, **params)
        return self.receive()

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.send("quit")
                self.process.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(10)
        self.log.close()


class ClientGroup:
    """The client processes; socket j of the run lives in process j % len(processes)."""

    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers

    def all(self, cmd: str, per_worker: Callable[[int], dict[str, Any]]) -> list[Any]:
        for k, worker in enumerate(self.workers):
            worker.send(cmd, **per_worker(k))
        return [worker.receive() for worker in self.workers]

    def split(self, items: list[Any], k: int) -> list[Any]:
        return items[k :: len(self.workers)]


@contextmanager
def daphne(app: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "daphne"), "-b", HOST, "-p", str(port), APPS[app]["asgi"]],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    process.port = port  # type: ignore[attr-defined]
    try:
        wait_listening(process, port, 60, lambda: log.read_text(errors="replace")[-3000:])
        yield process
    finally:
        stop(process)


def rss_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match, status
    return int(match.group(1)) * 1024


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        assert client.connection_pool.connection_kwargs.get("db", 0) != 0
        client.flushdb()
    finally:
        client.close()


@contextmanager
def profiling(directory: Path | None, name: str, pids: dict[str, int]) -> Iterator[None]:
    """py-spy record (collapsed stacks) of each pid while the block runs; summarised afterwards."""
    if directory is None:
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    spies = []
    for role, pid in pids.items():
        path = directory / f"{name}-{role}.txt"
        command = [str(BIN / "py-spy"), "record", "--pid", str(pid), "--rate", "250"]
        command += ["--format", "raw", "--nonblocking", "-o", str(path)]
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        spies.append((path, spy))
    time.sleep(0.5)  # py-spy attaches
    try:
        yield
    finally:
        for _, spy in spies:
            spy.send_signal(signal.SIGINT)
        for path, spy in spies:
            spy.wait(30)
            if path.exists():
                path.with_suffix(".md").write_text(summarise_profile(path))


def summarise_profile(path: Path, top: int = 15) -> str:
    """Top frames of a py-spy raw profile: by own samples, and by samples under them (inclusive)."""
    own: Counter[str] = Counter()
    under: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        samples = int(count)
        total += samples
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        own[frames[-1]] += samples
        for frame in set(frames):
            under[frame] += samples
    lines = [f"# {path.stem}: {total} samples\n", "## Own time\n"]
    lines += [f"- {100 * n / total:5.1f} % {frame}" for frame, n in own.most_common(top)]
    lines += ["", "## Inclusive\n"]
    lines += [f"- {100 * n / total:5.1f} % {frame}" for frame, n in under.most_common(top + 10)]
    return "\n".join(lines) + "\n"


# One app, one round.


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def merge_waits(answers: list[dict[str, Any]]) -> dict[str, Any]:
    arrivals: dict[str, list[float]] = {}
    for answer in answers:
        for title, (last, count) in answer["arrivals"].items():
            slot = arrivals.setdefault(title, [last, 0])
            slot[0] = max(slot[0], last)
            slot[1] += count
    return {
        "arrivals": arrivals,
        **{
            key: sum(a[key] for a in answers)
            for key in ("received", "missing", "duplicates", "unexpected", "dropped")
        },
        "reasons": [reason for a in answers for reason in a["reasons"]][:5],
    }


class AppRound:
    def __init__(self, app: str, number: int, args: argparse.Namespace, workdir: Path) -> None:
        self.app, self.number, self.args, self.workdir = app, number, args, workdir
        self.result: dict[str, Any] = {"app": app, "round": number + 1, "phases": {}}
        self.profile_dir = args.profile if number == 0 else None

    def phase_name(self, kind: str) -> str:
        return f"r{self.number}-{self.app}-{kind}"

    def run(self) -> dict[str, Any]:
        args, app = self.args, self.app
        redis_url = f"{args.redis_url.rstrip('/')}/{APPS[app]['db']}"
        flush_redis(redis_url)
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE=APPS[app]["settings"],
            DATABASE_URL=f"sqlite:///{self.workdir / 'db.sqlite3'}",
            BENCH_REDIS_URL=redis_url,
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            PYTHONUNBUFFERED="1",
        )
        total_users = max(args.users, args.broadcast_users)
        python = sys.executable
        sender = Worker([python, "bench/sender.py", app], env, self.workdir / "sender.log")
        workers: list[Worker] = []
        try:
            cookies = sender.call("setup", users=total_users + 1)["cookies"]
            with daphne(app, env, self.workdir / "daphne.log") as server:
                workers = [
                    Worker([python, "bench/client.py", app], env, self.workdir / f"client{k}.log")
                    for k in range(args.client_processes)
                ]
                clients = ClientGroup(workers)
                url = f"ws://{HOST}:{server.port}/ws/notifications/?since=0"  # type: ignore[attr-defined]
                self.measure(sender, clients, server, url, cookies)
                measured = (self.workdir / "daphne.log").read_text(errors="replace")
                closed = clients.all("close", lambda k: {})
                self.result["dropped_before_close"] = sum(c["dropped"] for c in closed)
                if any(c["reasons"] for c in closed):
                    self.result["dropped_reasons"] = [r for c in closed for r in c["reasons"]][:5]
                time.sleep(1)  # daphne runs the consumers' disconnects
            log = (self.workdir / "daphne.log").read_text(errors="replace")
            # Every client closes its sockets at once: a crash there is a figure of its own.
            self.result["daphne_tracebacks"] = measured.count("Traceback")
            self.result["daphne_tracebacks_closing"] = log.count("Traceback") - measured.count(
                "Traceback"
            )
            if log.count("Traceback"):
                self.result["daphne_log_tail"] = log[-3000:]
        finally:
            for worker in workers:
                worker.stop()
            sender.stop()
        return self.result

    def open_sockets(
        self, clients: ClientGroup, url: str, cookies: list[str], first: int
    ) -> dict[str, Any]:
        """Open sockets first.. for cookies (global index first + j); return the merged answer."""
        share = len(clients.workers)
        answers = clients.all(
            "open",
            lambda k: {
                "url": url,
                "origin": f"http://{HOST}",
                "cookies": cookies[(k - first) % share :: share],
                "concurrency": max(1, self.args.connect_concurrency // share),
                "handshake_s": 60,
            },
        )
        failed = sum(a["failed"] for a in answers)
        reasons = [r for a in answers for r in a["failures"]]
        if failed:
            raise RuntimeError(f"{failed} sockets did not open in 3 attempts: {reasons}")
        retried = sum(a["retried"] for a in answers)
        self.result["handshakes_retried"] = self.result.get("handshakes_retried", 0) + retried
        if retried:
            self.result.setdefault("handshake_failures", []).extend(reasons)
        return {"seconds": max(a["seconds"] for a in answers)}

    def deliver(
        self, clients: ClientGroup, kind: str, expected: list[int], send: Callable[[str], Any]
    ) -> tuple[Any, dict[str, Any]]:
        """Announce a phase to the clients, send, wait for delivery; record loss and duplicates."""
        name = self.phase_name(kind)
        clients.all("expect", lambda k: {"name": name})
        sent = send(name)
        waited = merge_waits(
            clients.all(
                "wait",
                lambda k: {
                    "name": name,
                    "expected": clients.split(expected, k),
                    "longest": self.args.timeout,
                    "quiet": self.args.quiet,
                },
            )
        )
        self.result["phases"][kind] = {
            "expected": sum(expected),
            "received": waited["received"],
            "lost": waited["missing"],
            "duplicates": waited["duplicates"],
        }
        self.result["unexpected"] = waited["unexpected"]
        self.result["dropped"] = waited["dropped"]
        if waited["reasons"]:
            self.result["dropped_reasons"] = waited["reasons"]
        return sent, waited

    def singles(
        self,
        sender: Worker,
        clients: ClientGroup,
        pids: dict[str, int],
        kind: str,
        count: int,
        rate: float | None,
    ) -> dict[str, Any]:
        n = self.args.users
        plan = [i % n for i in range(count)]
        expected = [0] * n
        for user in plan:
            expected[user] += 1
        with profiling(self.profile_dir, f"{self.app}-{kind}", pids):
            sent, waited = self.deliver(
                clients,
                kind,
                expected,
                lambda name: sender.call("singles", plan=plan, tag=name, rate=rate),
            )
        name = self.phase_name(kind)
        latencies = []
        last = None
        for i, at in enumerate(sent["sent"]):
            arrival = waited["arrivals"].get(f"{name}:{i}")
            if arrival is not None:
                latencies.append(arrival[0] - at)
                last = arrival[0] if last is None else max(last, arrival[0])
        phase = self.result["phases"][kind]
        first = sent["sent"][0]
        phase.update(
            calls_per_s=count / (sent["end"] - first),
            delivered_per_s=len(latencies) / (last - first) if last else None,
            p50_ms=1000 * p if (p := percentile(latencies, 50)) is not None else None,
            p99_ms=1000 * p if (p := percentile(latencies, 99)) is not None else None,
        )
        return phase

    def broadcast(
        self, sender: Worker, clients: ClientGroup, pids: dict[str, int], kind: str, users: int
    ) -> dict[str, Any]:
        with profiling(self.profile_dir, f"{self.app}-{kind}", pids):
            sent, waited = self.deliver(
                clients,
                kind,
                [1] * users,
                lambda name: sender.call("broadcast", users=users, title=f"{name}:0"),
            )
        arrival = waited["arrivals"].get(f"{self.phase_name(kind)}:0")
        phase = self.result["phases"][kind]
        phase.update(
            users=users,
            call_s=sent["end"] - sent["start"],
            last_socket_s=arrival[0] - sent["start"] if arrival else None,
            delivered_per_s=arrival[1] / (arrival[0] - sent["start"]) if arrival else None,
        )
        return phase

    def measure(
        self,
        sender: Worker,
        clients: ClientGroup,
        server: subprocess.Popen[bytes],
        url: str,
        cookies: list[str],
    ) -> None:
        args, result = self.args, self.result
        pids = {"daphne": server.pid, "sender": sender.pid}
        # One socket of a user outside every phase first: the first connection imports and opens
        # what every later one reuses (database, Redis pool), which is not a per-socket cost.
        with connect(
            url, origin=f"http://{HOST}", additional_headers={"Cookie": cookies[-1]}
        ) as ws:
            if self.app == "ours":
                ws.recv(timeout=30)  # welcome
            time.sleep(1)
            rss_before = rss_bytes(server.pid)
            with profiling(self.profile_dir, f"{self.app}-connect", {"daphne": server.pid}):
                opened = self.open_sockets(clients, url, cookies[: args.users], 0)
            result["connects_per_s"] = args.users / opened["seconds"]
            time.sleep(2)  # let daphne settle before reading its memory
            result["rss_idle_mb"] = rss_before / 2**20
            result["kb_per_socket"] = (rss_bytes(server.pid) - rss_before) / args.users / 1024

        self.singles(sender, clients, pids, "single", args.singles, None)
        self.singles(sender, clients, pids, "paced", args.paced, args.rate)
        self.broadcast(sender, clients, pids, "broadcast_n", args.users)
        if args.broadcast_users > args.users:
            self.open_sockets(clients, url, cookies[args.users : args.broadcast_users], args.users)
            self.broadcast(sender, clients, pids, "broadcast_b", args.broadcast_users)


def run_app_round(app: str, number: int, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{app}-"))
    round_ = AppRound(app, number, args, workdir)
    try:
        round_.run()
    except Exception:
        round_.result["error"] = traceback.format_exc()
    finally:
        keep = bool(problems(round_.result))
        if keep:
            round_.result["logs"] = str(workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return round_.result


# The table.


def get(result: dict[str, Any], path: str) -> Any:
    value: Any = result
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def rows(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """(figure, result path, format) of the table's timed rows."""
    n, b = args.users, args.broadcast_users
    big = "broadcast_b" if b > n else "broadcast_n"
    rate = f"{args.rate:.0f}/s"
    table = [
        (
            "single-recipient notify() calls, delivered/s, one sender",
            "single.delivered_per_s",
            "{:.0f}",
        ),
        ("- the calls alone, calls/s", "single.calls_per_s", "{:.0f}"),
        (f"bulk: one notify() to {max(b, n)}, delivered/s", f"{big}.delivered_per_s", "{:.0f}"),
        (f"broadcast to {n} online: last socket has it (s)", "broadcast_n.last_socket_s", "{:.2f}"),
        ("- the call alone (s)", "broadcast_n.call_s", "{:.2f}"),
    ]
    if b > n:
        table += [
            (
                f"broadcast to {b} online: last socket has it (s)",
                "broadcast_b.last_socket_s",
                "{:.2f}",
            ),
            ("- the call alone (s)", "broadcast_b.call_s", "{:.2f}"),
        ]
    table += [
        (f"p50 notify() -> socket at {rate} (ms)", "paced.p50_ms", "{:.1f}"),
        (f"p99 notify() -> socket at {rate} (ms)", "paced.p99_ms", "{:.1f}"),
        (f"- calls/s the sender reached (target {rate})", "paced.calls_per_s", "{:.0f}"),
        ("p50 at full throughput (ms)", "single.p50_ms", "{:.1f}"),
        ("p99 at full throughput (ms)", "single.p99_ms", "{:.1f}"),
    ]
    table = [(label, f"phases.{path}", pattern) for label, path, pattern in table]
    table += [
        ("connects/s incl. auth, welcome, replay", "connects_per_s", "{:.0f}"),
        ("idle memory per socket, daphne RSS (KB)", "kb_per_socket", "{:.1f}"),
    ]
    return table


LOSS_PHASES = {
    "single": "singles flat out",
    "paced": "singles paced",
    "broadcast_n": "broadcast N",
    "broadcast_b": "broadcast B",
}


def summarise(args: argparse.Namespace, results: list[dict[str, Any]]) -> dict[str, Any]:
    by_app: dict[str, list[dict[str, Any]]] = {app: [] for app in args.apps}
    for result in results:
        by_app[result["app"]].append(result)
    table = []
    for label, path, pattern in rows(args):
        row: dict[str, Any] = {"figure": label, "path": path}
        for app in args.apps:
            values = [v for r in by_app[app] if (v := get(r, path)) is not None]
            row[app] = statistics.median(values) if values else None
            row[f"{app}_rounds"] = [get(r, path) for r in by_app[app]]
        if set(args.apps) == {"ours", "tutorial"}:
            ratios = [
                o / t
                for o, t in zip(row["ours_rounds"], row["tutorial_rounds"], strict=False)
                if o is not None and t
            ]
            row["ratio"] = statistics.median(ratios) if ratios else None
        row["format"] = pattern
        table.append(row)
    loss = []
    for kind, label in LOSS_PHASES.items():
        if kind == "broadcast_b" and args.broadcast_users <= args.users:
            continue
        row = {"figure": f"lost / duplicates: {label}", "phase": kind}
        for app in args.apps:
            phases = [r["phases"].get(kind, {}) for r in by_app[app]]
            row[app] = {
                "lost": sum(p.get("lost", 0) for p in phases),
                "duplicates": sum(p.get("duplicates", 0) for p in phases),
                "expected": sum(p.get("expected", 0) for p in phases),
            }
        loss.append(row)
    retried = {"figure": "handshakes that failed and were retried (all rounds)"}
    for app in args.apps:
        retried[app] = sum(r.get("handshakes_retried", 0) for r in by_app[app])
    crashes = {"figure": "tracebacks in daphne's log: measured phases / all sockets closing"}
    for app in args.apps:
        crashes[app] = {
            "measured": sum(r.get("daphne_tracebacks", 0) for r in by_app[app]),
            "closing": sum(r.get("daphne_tracebacks_closing", 0) for r in by_app[app]),
        }
    return {"table": table, "loss": loss, "retried": retried, "tracebacks": crashes}


def problems(r: dict[str, Any]) -> list[str]:
    """What makes the run fail: a crash of either app, or a loss or duplicate of ours."""
    found = []
    where = f"{r['app']} round {r['round']}"
    if "error" in r:
        found.append(f"{where}: crashed:\n{r['error']}")
    if r.get("daphne_tracebacks"):
        found.append(
            f"{where}: {r['daphne_tracebacks']} tracebacks in daphne's log ({r.get('logs')})"
        )
    if r.get("daphne_tracebacks_closing") and r["app"] == "ours":
        found.append(
            f"{where}: {r['daphne_tracebacks_closing']} tracebacks in daphne's log "
            f"when the clients closed ({r.get('logs')})"
        )
    if r.get("unexpected"):
        found.append(f"{where}: {r['unexpected']} frames of no phase")
    if r.get("dropped") or r.get("dropped_before_close"):
        found.append(f"{where}: sockets closed by the server: {r.get('dropped_reasons')}")
    for kind, phase in r["phases"].items():
        if phase["duplicates"]:
            found.append(f"{where}: {phase['duplicates']} duplicates in {kind}")
        if phase["lost"] and r["app"] == "ours":
            found.append(f"{where}: {phase['lost']} of {phase['expected']} lost in {kind}")
    return found


def failures(results: list[dict[str, Any]]) -> list[str]:
    return [problem for result in results for problem in problems(result)]


def render(args: argparse.Namespace, summary: dict[str, Any], header: str) -> str:
    def cell(value: Any, pattern: str) -> str:
        return "-" if value is None else pattern.format(value)

    both = set(args.apps) == {"ours", "tutorial"}
    columns = ["figure", *args.apps] + (["ratio (ours/tutorial)"] if both else [])
    lines = [header, "", "| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for row in summary["table"]:
        cells = [row["figure"], *(cell(row[app], row["format"]) for app in args.apps)]
        if both:
            cells.append(cell(row["ratio"], "{:.2f}"))
        lines.append("| " + " | ".join(cells) + " |")
    for row in summary["loss"]:
        cells = [row["figure"]]
        for app in args.apps:
            counts = row[app]
            cells.append(f"{counts['lost']} / {counts['duplicates']} of {counts['expected']}")
        if both:
            cells.append("")
        lines.append("| " + " | ".join(cells) + " |")
    retried = summary["retried"]
    cells = [retried["figure"], *(str(retried[app]) for app in args.apps)]
    lines.append("| " + " | ".join(cells + ([""] if both else [])) + " |")
    crashes = summary["tracebacks"]
    cells = [crashes["figure"]]
    cells += [f"{crashes[app]['measured']} / {crashes[app]['closing']}" for app in args.apps]
    lines.append("| " + " | ".join(cells + ([""] if both else [])) + " |")
    return "\n".join(lines)


def raise_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    limit = raise_file_limit()
    need = max(args.users, args.broadcast_users) * 2 + 200
    if limit < need:
        print(f"warning: open files limited to {limit}, {need} wanted", file=sys.stderr)
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    results = []
    progress = sys.stderr
    for number in range(args.rounds):
        order = args.apps if number % 2 == 0 else args.apps[::-1]
        for app in order:
            print(f"round {number + 1}/{args.rounds}: {app} ...", file=progress, flush=True)
            begun = time.monotonic()
            results.append(run_app_round(app, number, args))
            print(f"  done in {time.monotonic() - begun:.0f} s", file=progress, flush=True)
    summary = summarise(args, results)
    command = "bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    header = (
        f"{command.strip()}: N = {args.users}, {args.rounds} round(s), {started}, "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    print(render(args, summary, header))
    found = failures(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    with args.json.open("w") as out:
        json.dump(
            {
                "command": command.strip(),
                "started": started,
                "machine": {
                    "cores": os.cpu_count(),
                    "load_after": os.getloadavg(),
                    "python": platform.python_version(),
                },
                "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                **summary,
                "rounds": results,
                "failures": found,
            },
            out,
            indent=1,
        )
    print(f"\nJSON: {args.json}")
    for problem in found:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
