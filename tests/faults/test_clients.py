"""Clients that churn, send garbage, or stop reading, next to well-behaved ones."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests import servers
from tests.faults.conftest import Scenario

pytestmark = [pytest.mark.faults, pytest.mark.redis, pytest.mark.slow]

# Sized for two shared cores: 2,000 handshakes take ~20-50 s there. Handshakes in flight stay few:
# each waits for the process's one database thread, and daphne drops one not accepted within 5 s.
CYCLES = 2000
CONCURRENCY = 10
WARM_UP_CYCLES = 200
# A starved daphne holds closed sockets until it gets to them: the probe waits until it let go.
SETTLE_SECONDS = 60.0
# Python blocks still allocated once the process let go of every closed socket, per cycle: a socket
# left behind is hundreds of blocks, a leaked dict entry one or two.
LEAK_BLOCKS_PER_CYCLE = 1


async def open_and_close(server: servers.DaphneServer, session: servers.Session) -> None:
    async with connect(
        server.ws_url,
        origin=server.origin,  # type: ignore[arg-type]
        additional_headers={"Cookie": session.header},
        open_timeout=30,
    ) as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"


async def test_2000_connect_disconnect_cycles_leave_nothing_behind(scenario: Scenario) -> None:
    await scenario.add_users(10)
    server = scenario.start_daphne(application=servers.PROBE_APP)
    await scenario.open_clients(server)
    rng = random.Random(8)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def cycle() -> None:
        async with gate:
            await open_and_close(server, rng.choice(scenario.sessions))

    async def cycles(count: int) -> dict[str, int]:
        """Cycles with pushes all along, then what the process holds once it let go of them."""
        running = asyncio.gather(*(cycle() for _ in range(count)))
        # Ten rounds a second: sockets close while pushes to their user are on their way.
        while not running.done():
            await scenario.notify_all(1)
            await asyncio.sleep(0.1)
        await running
        return await asyncio.to_thread(
            servers.wait_held, server, settled, SETTLE_SECONDS, memory=True
        )

    settled = {"hub_sockets": len(scenario.clients), "closed_websockets": 0}
    # The first sockets import and cache what every later one uses: RSS and blocks count from after.
    # The exact check is the blocks (a leaked scope is ~80 a cycle); RSS also keeps the high-water
    # mark of a backlog (closed sockets a starved daphne had not got to yet), within RSS_BOUND_BYTES.
    before = await cycles(WARM_UP_CYCLES)
    scenario.rss_start[server.port] = server.rss_bytes()
    after = await cycles(CYCLES)
    grown = after["allocated_blocks"] - before["allocated_blocks"]
    assert grown < CYCLES * LEAK_BLOCKS_PER_CYCLE, f"{grown} blocks more after {CYCLES} cycles"
    await scenario.assert_healthy()


PING = json.dumps({"type": "ping"})

# Each kind of abuse (frames sent at once) and its documented answers: close codes, or an `error`
# frame's code (-1: the connection dropped without a close frame).
ABUSE: list[tuple[list[str | bytes], set[int | str]]] = [
    # Over MAX_FRAME_BYTES, and frames already on their way after it: the socket is closed.
    (["x" * (16 * 1024 + 1), PING, PING, PING], {4009}),
    (["{" * 100_000], {4009}),  # nested too deep, and too big
    # Over daphne's own 1 MiB message limit: daphne drops the connection while the frame still
    # streams in (1009 when its close frame gets through first).
    (["y" * (2 * 1024 * 1024)], {1009, -1}),
    ([PING] * 100, {4008}),  # flooding after `rate_limited`
    ([b"\x00\xff" * 10], {"binary_not_supported"}),
]


async def abuse(
    server: servers.DaphneServer, session: servers.Session, frames: list[str | bytes]
) -> int | str:
    """Send the frames; the close code, or the first error code if the socket stays open."""
    async with connect(
        server.ws_url,
        origin=server.origin,  # type: ignore[arg-type]
        additional_headers={"Cookie": session.header},
        open_timeout=30,
        max_size=None,
    ) as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"
        try:
            for frame in frames:
                await ws.send(frame)
            while True:
                answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if answer["type"] == "error" and answer["code"] != "rate_limited":
                    return str(answer["code"])
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else -1


async def test_50_sockets_crashed_by_bad_frames_leave_nothing_behind(scenario: Scenario) -> None:
    await scenario.add_users(5)
    server = scenario.start_daphne()
    await scenario.open_clients(server)
    stream = scenario.stream(30)
    cases = ABUSE * 10
    answers = await asyncio.gather(
        *(abuse(server, scenario.sessions[i % 5], frames) for i, (frames, _) in enumerate(cases))
    )
    await stream
    unexpected = [
        (i, a) for i, (a, (_, ok)) in enumerate(zip(answers, cases, strict=True)) if a not in ok
    ]
    assert unexpected == []
    await scenario.assert_healthy()


# The backlog of a socket that stops reading: 1,500 notifications of 10 KB (kernel socket buffers
# hold a few MB of it, daphne the rest).
BACKLOG_COUNT = 1500
BACKLOG_BODY = "z" * 10_000
BACKLOG_RSS_BOUND = 5 * 1024 * 1024


async def test_a_client_that_stops_reading_is_bounded_and_catches_up(scenario: Scenario) -> None:
    await scenario.add_users(1)
    server = scenario.start_daphne()
    await scenario.open_clients(server, per_user=2)
    reader, stalled = scenario.clients
    stalled.reading.clear()
    await scenario.notify_all(BACKLOG_COUNT, body=BACKLOG_BODY)
    await reader.wait_for(scenario.sent)  # the server has pushed everything by now
    try:
        scenario.assert_rss_bounded(BACKLOG_RSS_BOUND)
    finally:
        stalled.reading.set()  # it comes back, and must catch up
    await scenario.assert_healthy()
