"""A daphne process ends under open sockets (SIGTERM, SIGKILL); its clients move to a new one."""

from __future__ import annotations

import signal

import pytest

from tests.faults.conftest import Scenario

pytestmark = [pytest.mark.faults, pytest.mark.redis, pytest.mark.slow]


async def restart_daphne_mid_stream(scenario: Scenario, sig: signal.Signals) -> None:
    await scenario.add_users(5)
    first = scenario.start_daphne()
    await scenario.open_clients(first, per_user=2)
    stream = scenario.stream(50)
    await scenario.wait_sent(15)
    first.process.send_signal(sig)
    first.process.wait(30)
    await scenario.wait_sent(25)  # created while no server runs
    second = scenario.start_daphne()
    for client in scenario.clients:  # the load balancer's next backend
        client.server = second
    await stream
    await scenario.assert_healthy()


# Channel-layer groups live in Redis: after SIGTERM (which skips disconnect()) or SIGKILL, a dead
# process's memberships expire with the layer's group_expiry (the scenario scales it down), its queue
# and the in-flight backup of a message it was taking (notifications.layers.RedisChannelLayer) with the
# layer's expiry.
TRANSPORTS = pytest.mark.parametrize("transport", ["auto", "layer"])


@TRANSPORTS
async def test_daphne_sigterm_then_restart(scenario: Scenario) -> None:
    await restart_daphne_mid_stream(scenario, signal.SIGTERM)


@TRANSPORTS
async def test_daphne_sigkill_then_restart(scenario: Scenario) -> None:
    await restart_daphne_mid_stream(scenario, signal.SIGKILL)
