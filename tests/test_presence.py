"""Presence: which users have a socket open in any process (notifications.presence)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import DatabaseError, connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications import presence
from notifications.models import Presence
from tests import servers
from tests.conftest import make_user

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts of their own, and no writer thread: these tests call flush() and beat() themselves (a
    writer started by other tests in this process keeps its own counts)."""
    state = presence._Counts()
    state.writer = presence.os.getpid()
    monkeypatch.setattr(presence, "_state", state)


def wait_until(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


async def test_sockets_are_counted_per_user_until_the_last_one_closes() -> None:
    alice = await database_sync_to_async(make_user)("alice")
    bob = await database_sync_to_async(make_user)("bob")
    flush = database_sync_to_async(presence.flush)
    online = database_sync_to_async(presence.online)
    presence.connected(alice.pk)
    presence.connected(alice.pk)
    await flush()
    assert await online([alice.pk, bob.pk]) == {alice.pk}
    row = await Presence.objects.aget(user=alice)
    assert (row.process, row.sockets) == (presence.process_id(), 2)
    presence.disconnected(alice.pk)
    await flush()
    assert await online([alice.pk]) == {alice.pk}
    presence.disconnected(alice.pk)
    await flush()
    assert await online([alice.pk]) == set()
    assert not await Presence.objects.aexists()
    presence.disconnected(alice.pk)  # an extra close never goes negative
    await flush()
    assert not await Presence.objects.aexists()


def test_a_storm_of_connects_is_a_few_writes(django_assert_max_num_queries: Any) -> None:
    alice = make_user("alice")
    for _ in range(200):
        presence._change(alice.pk, 1)
    with django_assert_max_num_queries(4):
        presence.flush()
    assert Presence.objects.get().sockets == 200


def test_the_changes_of_many_users_are_one_transaction_of_two_statements(
    django_assert_max_num_queries: Any,
) -> None:
    users = [make_user(f"u{i}") for i in range(300)]
    for user in users:
        presence._change(user.pk, 1)
    presence.flush()
    for user in users[:100]:
        presence._change(user.pk, -1)  # closed
    for user in users[100:200]:
        presence._change(user.pk, 1)  # a second socket
    with django_assert_max_num_queries(4):  # BEGIN, the DELETE, the upsert, COMMIT
        presence.flush()
    counts = dict(Presence.objects.values_list("user_id", "sockets"))
    assert counts == {u.pk: 2 for u in users[100:200]} | {u.pk: 1 for u in users[200:]}


def test_a_deleted_user_does_not_keep_the_others_from_being_written() -> None:
    alice, bob = make_user("alice"), make_user("bob")
    presence._change(alice.pk, 1)
    presence._change(bob.pk, 1)
    alice.delete()
    presence.flush()
    assert presence.online([alice.pk, bob.pk]) == {bob.pk}
    assert presence._state.dirty == set()


def test_a_failed_write_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    alice = make_user("alice")
    presence._change(alice.pk, 1)
    original = presence._write

    def down(counts: dict[Any, int]) -> None:
        raise DatabaseError("down")

    monkeypatch.setattr(presence, "_write", down)
    with pytest.raises(DatabaseError):
        presence.flush()
    monkeypatch.setattr(presence, "_write", original)
    presence.flush()
    assert presence.online([alice.pk]) == {alice.pk}


def test_a_socket_of_a_deleted_user_is_dropped_not_retried_forever() -> None:
    alice = make_user("alice")
    pk = alice.pk
    alice.delete()
    presence._change(pk, 1)
    presence.flush()
    assert not Presence.objects.exists() and presence._state.dirty == set()


def test_a_user_is_online_while_any_live_process_holds_a_socket() -> None:
    alice = make_user("alice")
    now = timezone.now()
    expired = now - timedelta(seconds=presence.EXPIRY + 1)
    Presence.objects.create(process="a:1:x", user=alice, sockets=1, heartbeat=now)
    Presence.objects.create(process="b:2:y", user=alice, sockets=3, heartbeat=expired)
    assert presence.online([alice.pk]) == {alice.pk}
    Presence.objects.filter(process="a:1:x").delete()
    assert presence.online([alice.pk]) == set()  # only a process that stopped beating is left
    assert presence.online([]) == set()


def test_a_heartbeat_refreshes_this_process_and_drops_dead_ones() -> None:
    alice, bob = make_user("alice"), make_user("bob")
    old = timezone.now() - timedelta(seconds=presence.EXPIRY + 1)
    presence._change(alice.pk, 1)
    presence.flush()
    Presence.objects.filter(user=alice).update(heartbeat=old)
    Presence.objects.create(process="dead:1:x", user=bob, sockets=1, heartbeat=old)
    presence.beat()
    assert presence.online([alice.pk, bob.pk]) == {alice.pk}
    assert list(Presence.objects.values_list("process", flat=True)) == [presence.process_id()]


def test_a_heartbeat_rewrites_rows_lost_while_this_process_stalled() -> None:
    alice = make_user("alice")
    presence._change(alice.pk, 1)
    presence._change(alice.pk, 1)
    presence.flush()
    Presence.objects.all().delete()  # another process expired them
    presence.beat()
    assert Presence.objects.get().sockets == 2


# MAX_CONNECTIONS_PER_USER (20 by default): elsewhere() and admit().


def test_a_burst_of_connects_in_one_process_admits_exactly_the_cap() -> None:
    alice = make_user("alice")
    admitted = [presence.admit(alice.pk, 0) for _ in range(25)]
    assert admitted.count(True) == 20
    assert presence._state.sockets[alice.pk] == 20  # the refused ones are not counted


def test_the_cap_counts_the_sockets_of_other_live_processes() -> None:
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    now = timezone.now()
    expired = now - timedelta(seconds=presence.EXPIRY + 1)
    Presence.objects.create(process="a:1:x", user=alice, sockets=12, heartbeat=now)
    Presence.objects.create(process="b:2:y", user=alice, sockets=6, heartbeat=now)
    Presence.objects.create(process="dead:3:z", user=alice, sockets=20, heartbeat=expired)
    Presence.objects.create(process="a:1:x", user=bob, sockets=20, heartbeat=now)
    # This process's own row is its memory, not the (older) database row.
    Presence.objects.create(process=presence.process_id(), user=alice, sockets=20, heartbeat=now)
    with CaptureQueriesContext(connection) as queries:
        others = presence.elsewhere([alice.pk, bob.pk, carol.pk])
    assert others == {alice.pk: 18, bob.pk: 20} and len(queries) == 1
    assert [presence.admit(alice.pk, others[alice.pk]) for _ in range(3)] == [True, True, False]
    presence.disconnected(alice.pk)
    assert presence.admit(alice.pk, others[alice.pk])
    assert presence.admit(bob.pk, others[bob.pk]) is False  # bob's own 20 elsewhere
    assert not presence._state.sockets[bob.pk]


@override_settings(NOTIFICATIONS={"MAX_CONNECTIONS_PER_USER": None})
def test_no_cap_admits_every_socket_without_a_query() -> None:
    alice = make_user("alice")
    Presence.objects.create(process="a:1:x", user=alice, sockets=100, heartbeat=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        assert presence.elsewhere([alice.pk]) == {}
    assert queries.captured_queries == []
    assert all(presence.admit(alice.pk, 100) for _ in range(50))
    assert presence._state.sockets[alice.pk] == 50


def test_a_process_id_is_unique_per_process() -> None:
    name = presence.process_id()
    assert name == presence.process_id() and str(presence.os.getpid()) in name
    assert len(name) <= 64


@pytest.mark.redis
def test_a_socket_on_daphne_is_seen_from_this_process(daphne: Any) -> None:
    alice = make_user("alice")
    session = daphne.login("alice", "alice")
    with servers.ws_connect(daphne, session) as ws:
        servers.recv_json(ws)  # the welcome: connect() has run, its count is being written
        wait_until(lambda: presence.online([alice.pk]) == {alice.pk})
        row = Presence.objects.get()
        assert row.process != presence.process_id() and row.sockets == 1
    wait_until(lambda: presence.online([alice.pk]) == set())


@pytest.mark.redis
def test_a_daphne_stopped_by_sigterm_takes_its_users_offline_at_once(daphne: Any) -> None:
    # daphne's SIGTERM cancels the consumers without disconnect(); the rows go at exit, so Web Push
    # reaches these users at once after a deploy's restart instead of EXPIRY seconds later.
    alice = make_user("alice")
    with servers.ws_connect(daphne, daphne.login("alice", "alice")) as ws:
        servers.recv_json(ws)
        wait_until(lambda: presence.online([alice.pk]) == {alice.pk})
        daphne.process.send_signal(signal.SIGTERM)
        daphne.process.wait(30)
    assert presence.online([alice.pk]) == set()
    assert not Presence.objects.exists()
    servers.assert_clean_log(daphne)


def test_a_process_exiting_writes_nothing_after_it_deleted_its_rows() -> None:
    alice = make_user("alice")
    state = presence._Counts()
    state.writer = presence.os.getpid()
    state.sockets[alice.pk] = 1
    state.dirty.add(alice.pk)
    presence.flush(state)
    assert presence.online([alice.pk]) == {alice.pk}
    presence._forget(state)
    assert presence.online([alice.pk]) == set()
    state.dirty.add(alice.pk)  # a change that arrives after the exit began
    presence.flush(state)
    assert not Presence.objects.exists()
