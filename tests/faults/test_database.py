"""The database is unavailable when a client connects: the handshake is refused cleanly, and the client
catches up once it reaches a server whose database answers."""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests import servers
from tests.faults.conftest import Scenario

pytestmark = [pytest.mark.faults, pytest.mark.redis, pytest.mark.slow]

# A database that cannot be opened: a missing directory (SQLite), a missing database (PostgreSQL).
UNREACHABLE_DB = "/nonexistent-notifications-db/x.sqlite3"


async def test_the_database_unavailable_at_connect_time(scenario: Scenario) -> None:
    await scenario.add_users(3)
    healthy = scenario.start_daphne()
    broken = scenario.start_daphne(NOTIFICATIONS_TEST_DB_NAME=UNREACHABLE_DB)
    await scenario.notify_all(10)
    for session in scenario.sessions:
        with pytest.raises(InvalidStatus) as refused:
            await connect(
                broken.ws_url,
                origin=broken.origin,  # type: ignore[arg-type]
                additional_headers={"Cookie": session.header},
                open_timeout=10,
            )
        assert refused.value.response.status_code in {403, 500, 503}
    # The same clients, on a server whose database answers: everything, once.
    await scenario.open_clients(healthy)
    await scenario.notify_all(10)
    await scenario.assert_healthy()
    servers.assert_clean_log(broken)
