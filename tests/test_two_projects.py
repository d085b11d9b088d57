"""Two projects on one Redis database (same layer prefix) never see each other's pushes: group names
carry a key of the project, derived from SECRET_KEY."""

from __future__ import annotations

from typing import Any

import pytest

from notifications import api, notify
from tests import servers
from tests.conftest import make_user

pytestmark = [pytest.mark.redis]

OTHER_SECRET_KEY = "another-project-on-the-same-redis"


def test_user_3_of_one_project_never_receives_the_other_projects_push(
    daphne_factory: Any, settings: Any
) -> None:
    # One database, so the same user (same pk) is signed in on both; each project is a daphne
    # process with its own SECRET_KEY, both on the same Redis database and layer prefix.
    alice = make_user("alice")
    mine = daphne_factory()
    other = daphne_factory(env={"NOTIFICATIONS_TEST_SECRET_KEY": OTHER_SECRET_KEY})
    with (
        servers.ws_connect(mine, mine.login("alice", "alice")) as ws_mine,
        servers.ws_connect(other, other.login("alice", "alice")) as ws_other,
    ):
        assert (
            servers.recv_json(ws_mine)["type"] == servers.recv_json(ws_other)["type"] == "welcome"
        )
        [first] = notify(alice, "for this project", title="secret title")  # SECRET_KEY of `mine`
        assert servers.recv_json(ws_mine)["notification"]["title"] == "secret title"
        # The other project's own push, sent after: each server's queue is first in, first out, so a
        # leaked push would arrive before it.
        own_key = settings.SECRET_KEY
        settings.SECRET_KEY = OTHER_SECRET_KEY
        api.mark_read(alice, [first.pk])
        assert servers.recv_json(ws_other)["type"] == "read"
        settings.SECRET_KEY = own_key
        notify(alice, "second")
        assert servers.recv_json(ws_mine)["notification"]["seq"] == 2  # not the other's `read`
    servers.assert_clean_log(mine)
    servers.assert_clean_log(other)
