"""The WebSocket client process: many sockets, one per signed-in user, on one asyncio loop.

    python bench/client.py ours|tutorial

Both apps get this same client (``websockets``, no compression, no pings). Commands come as JSON lines
on stdin, answers go as JSON lines to stdout:

- ``open``: open one socket per cookie (``concurrency`` handshakes at a time, each tried up to 3
  times: a failed one is retried as a browser reconnects, and counted). A socket counts as open
  when the app is ready to push to it: ours after its ``welcome`` frame (auth, group join, inbox read,
  replay of everything after ``since=0``), the tutorial after the handshake (auth, group join).
- ``wait``: wait until socket i has ``expected[i]`` notifications of a phase, or until ``quiet`` seconds
  pass with none of them arriving (or ``longest``); answer what arrived, when, what is missing, and what
  came twice (same notification id on one socket).
- ``close``: close every socket; answer how many had been closed by the server before.

A notification's title is ``<phase>:<i>``; frames of other phases are counted as unexpected.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

HANDSHAKE_ATTEMPTS = 3


def payload(app: str, frame: dict[str, Any]) -> dict[str, Any] | None:
    """The notification a frame carries (its id and title), or None for other frames."""
    if frame.get("type") != "notification":
        return None
    return frame["notification"] if app == "ours" else frame  # type: ignore[no-any-return]


class Phase:
    def __init__(self, sockets: int) -> None:
        self.ids: list[set[int]] = [set() for _ in range(sockets)]
        self.arrivals: dict[str, list[float]] = {}  # title -> [last arrival, count]
        self.duplicates = 0
        self.expected: list[int] | None = None
        self.outstanding = 0
        self.progress = asyncio.Event()


class Clients:
    def __init__(self, app: str) -> None:
        self.app = app
        self.sockets: list[ClientConnection] = []
        self.readers: list[asyncio.Task[None]] = []
        self.phases: dict[str, Phase] = {}
        self.unexpected = 0
        self.dropped = 0  # sockets the server closed
        self.reasons: list[str] = []

    def phase(self, name: str) -> Phase:
        if name not in self.phases:
            self.phases[name] = Phase(len(self.sockets))
        return self.phases[name]

    async def read(self, index: int, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                now = time.monotonic()
                note = payload(self.app, json.loads(raw))
                if note is None:
                    continue
                name, _, _ = str(note["title"]).rpartition(":")
                phase = self.phases.get(name)
                if phase is None or index >= len(phase.ids):
                    self.unexpected += 1
                    continue
                seen = phase.ids[index]
                if note["id"] in seen:
                    phase.duplicates += 1
                    continue
                seen.add(note["id"])
                slot = phase.arrivals.setdefault(note["title"], [now, 0])
                slot[0] = now
                slot[1] += 1
                if phase.expected is not None and len(seen) <= phase.expected[index]:
                    phase.outstanding -= 1
                    phase.progress.set()
        except Exception as exc:  # the connection broke: the phase's wait reports what is missing
            self.reasons.append(f"{type(exc).__name__}: {exc}")
        else:
            self.reasons.append(f"closed by the server: {ws.close_code} {ws.close_reason}")
        self.dropped += 1

    async def open(
        self, url: str, origin: str, cookies: list[str], concurrency: int, handshake_s: float
    ) -> dict[str, Any]:
        gate = asyncio.Semaphore(concurrency)
        failures: list[str] = []
        given_up: list[str] = []

        async def open_one(cookie: str) -> ClientConnection | None:
            # A refused or timed-out handshake is retried, as a browser reconnects; each one counts.
            for attempt in range(HANDSHAKE_ATTEMPTS):
                async with gate:
                    try:
                        return await self.handshake(url, origin, cookie, handshake_s)
                    except Exception as exc:
                        failures.append(f"{type(exc).__name__}: {exc}")
                        if attempt + 1 == HANDSHAKE_ATTEMPTS:
                            given_up.append(cookie)
            return None

        start = time.monotonic()
        opened = await asyncio.gather(*(open_one(c) for c in cookies))
        seconds = time.monotonic() - start
        for ws in opened:
            if ws is not None:
                index = len(self.sockets)
                self.sockets.append(ws)
                self.readers.append(asyncio.create_task(self.read(index, ws)))
        return {
            "seconds": seconds,
            "opened": len(self.sockets),
            "failures": failures[:5],
            "retried": len(failures) - len(given_up),
            "failed": len(given_up),
        }

    async def handshake(
        self, url: str, origin: str, cookie: str, handshake_s: float
    ) -> ClientConnection:
        ws = await connect(
            url,
            origin=origin,  # type: ignore[arg-type]
            additional_headers={"Cookie": cookie},
            compression=None,
            ping_interval=None,
            open_timeout=handshake_s,
            max_queue=None,
        )
        if self.app == "ours":
            try:
                first = json.loads(await asyncio.wait_for(ws.recv(), handshake_s))
                if first.get("type") != "welcome":
                    raise RuntimeError(f"first frame is not welcome: {first}")
            except BaseException:
                await ws.close()
                raise
        return ws

    def expect(self, name: str) -> dict[str, Any]:
        """Announce a phase before its notifications are sent."""
        self.phase(name)
        return {}

    async def wait(
        self, name: str, expected: list[int], longest: float, quiet: float
    ) -> dict[str, Any]:
        phase = self.phase(name)
        phase.expected = expected
        phase.outstanding = sum(
            max(0, want - len(got)) for want, got in zip(expected, phase.ids, strict=False)
        )
        deadline = time.monotonic() + longest
        while phase.outstanding > 0 and time.monotonic() < deadline:
            phase.progress.clear()
            try:
                await asyncio.wait_for(
                    phase.progress.wait(), min(quiet, deadline - time.monotonic())
                )
            except TimeoutError:
                break
        del self.phases[name]
        missing = sum(
            max(0, want - len(got)) for want, got in zip(expected, phase.ids, strict=False)
        )
        return {
            "arrivals": phase.arrivals,
            "received": sum(len(got) for got in phase.ids),
            "missing": missing,
            "duplicates": phase.duplicates,
            "unexpected": self.unexpected,
            "dropped": self.dropped,
            "reasons": self.reasons[:5],
        }

    async def close(self) -> dict[str, Any]:
        dropped = self.dropped
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
        return {"dropped": dropped, "reasons": self.reasons[:5]}


async def main() -> None:
    clients = Clients(sys.argv[1])
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)  # a command carries thousands of cookies
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    while line := await reader.readline():
        command = json.loads(line)
        name = command.pop("cmd")
        answer = (
            await getattr(clients, name)(**command)
            if name != "expect"
            else clients.expect(**command)
        )
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
        if name == "close":
            break


if __name__ == "__main__":
    asyncio.run(main())
