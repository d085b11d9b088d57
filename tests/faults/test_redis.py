"""Redis dies or freezes under open sockets while notifications stream."""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.conftest import Scenario, stopped

pytestmark = [pytest.mark.faults, pytest.mark.redis, pytest.mark.slow]


@pytest.mark.parametrize(
    "transport",
    [
        "auto",
        "layer",
    ],
)
async def test_redis_sigkill_and_restart_mid_stream(scenario: Scenario) -> None:
    await scenario.add_users(5)
    server = scenario.start_daphne()
    await scenario.open_clients(server, per_user=2)
    stream = scenario.stream(60)
    await scenario.wait_sent(20)
    scenario.redis.stop()  # SIGKILL: every membership and queued message is gone
    await scenario.wait_sent(35)  # saved in the database; live delivery fails (logged)
    scenario.redis.start()
    await stream
    await scenario.assert_healthy()


async def test_redis_sigstop_for_8_seconds(scenario: Scenario) -> None:
    await scenario.add_users(5)
    server = scenario.start_daphne()
    await scenario.open_clients(server, per_user=2)
    stream = scenario.stream(40)
    await scenario.wait_sent(15)
    with stopped(scenario.redis.process):
        await asyncio.sleep(8)  # the pause is the fault
    await stream
    await scenario.assert_healthy()
