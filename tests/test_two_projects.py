"""Two projects on one Redis database (same layer prefix) never see each other's pushes: group names
carry a key of the project, derived from SECRET_KEY."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis

from notifications import api, delivery, notify, protocol
from tests import servers
from tests.conftest import REDIS_PREFIX, make_user

pytestmark = [pytest.mark.redis]

OTHER_SECRET_KEY = "another-project-on-the-same-redis"


def test_user_3_of_one_project_never_receives_the_other_projects_push(
    daphne_factory: Any, settings: Any
) -> None:
    # One database, so the same user (same pk) is signed in on both; each project is a daphne
    # process with its own SECRET_KEY, both on the same Redis database and layer prefix. The shared
    # database is the test's, not a real deployment's: a sync pass of the other project would find its
    # socket behind and rightly heal it from there, so the other's only sync pass (the one after its
    # subscription, which ends before the first message it hears: the probe) is over before `notify`.
    alice = make_user("alice")
    mine = daphne_factory()
    other = daphne_factory(
        env={
            "NOTIFICATIONS_TEST_SECRET_KEY": OTHER_SECRET_KEY,
            "NOTIFICATIONS_TEST_SETTINGS": json.dumps({"SYNC_INTERVAL": 3600}),
        }
    )
    own_key = settings.SECRET_KEY
    with (
        servers.ws_connect(mine, mine.login("alice", "alice")) as ws_mine,
        servers.ws_connect(other, other.login("alice", "alice")) as ws_other,
    ):
        assert (
            servers.recv_json(ws_mine)["type"] == servers.recv_json(ws_other)["type"] == "welcome"
        )
        settings.SECRET_KEY = OTHER_SECRET_KEY
        delivery.send(delivery.frame_messages({alice.pk: protocol.error_frame("probe", "probe")}))
        assert servers.recv_json(ws_other)["code"] == "probe"
        settings.SECRET_KEY = own_key
        [first] = notify(alice, "for this project", title="secret title")  # SECRET_KEY of `mine`
        assert servers.recv_json(ws_mine)["notification"]["title"] == "secret title"
        # The other project's own push, sent after: each server's queue is first in, first out, so a
        # leaked push would arrive before it.
        settings.SECRET_KEY = OTHER_SECRET_KEY
        api.mark_read(alice, [first.pk])
        assert servers.recv_json(ws_other)["type"] == "read"
        settings.SECRET_KEY = own_key
        notify(alice, "second")
        assert servers.recv_json(ws_mine)["notification"]["seq"] == 2  # not the other's `read`
    servers.assert_clean_log(mine)
    servers.assert_clean_log(other)


def published(listener: Any, until: bytes, timeout: float = 10) -> list[bytes]:
    """What the listener heard, up to the message holding `until`."""
    heard: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = listener.get_message(timeout=1)
        if message is not None:
            heard.append(message["data"])
            if until in message["data"]:
                return heard
    raise AssertionError(f"{until!r} not published within {timeout} s; heard {heard}")


def test_one_projects_processes_never_receive_the_other_projects_pushes(
    daphne_factory: Any, redis_url: str, settings: Any
) -> None:
    # Group names alone keep the sockets apart; the fan-out channel keeps the other project's titles
    # and bodies out of this project's processes altogether.
    alice = make_user("alice")
    other = daphne_factory(env={"NOTIFICATIONS_TEST_SECRET_KEY": OTHER_SECRET_KEY})
    client = redis.Redis.from_url(redis_url)
    listener = client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(protocol.fanout_channel(REDIS_PREFIX))  # this project's (SECRET_KEY)
    try:
        with servers.ws_connect(other, other.login("alice", "alice")) as ws_other:
            assert servers.recv_json(ws_other)["type"] == "welcome"
            own_key = settings.SECRET_KEY
            settings.SECRET_KEY = OTHER_SECRET_KEY
            notify(alice, "for the other project", title="secret title")
            # Published after commit, by a thread of delivery's: the key stays until it arrived.
            assert servers.recv_json(ws_other)["notification"]["title"] == "secret title"
            settings.SECRET_KEY = own_key
            notify(alice, "for this project")
            heard = published(listener, until=b"for this project")
    finally:
        listener.close()
        client.close()
    assert len(heard) == 1, heard  # this project's push only, not the other's published before it
    servers.assert_clean_log(other)
