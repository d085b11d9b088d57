"""Grouped notifications over the socket: the collapsed frame, the count, catch-up; in-process and on daphne."""

from __future__ import annotations

from typing import Any

import pytest

from notifications import anotify, notify
from notifications.testing import receive_frame
from tests import servers
from tests.conftest import make_user
from tests.test_consumers import Open, auser, frames, memory_layer, send_json, silent, sockets

__all__ = ["memory_layer", "sockets"]  # fixtures, used by name

KEY = "post:42:comments"


@pytest.mark.django_db(transaction=True)
async def test_a_collapsed_notification_is_sent_with_its_id_and_the_group(
    memory_layer: str, sockets: Open
) -> None:
    alice, ann, bob = await auser("alice"), await auser("ann"), await auser("bob")
    socket, _ = await sockets(alice)
    [first] = await anotify(alice, "commented", actor=ann, title="Ann", group_key=KEY)
    await anotify(alice, "liked", title="other")
    await anotify(alice, "commented", actor=bob, title="Bob", group_key=KEY)
    received = [f["notification"] for f in await frames(socket, 3)]
    assert [(n["id"], n["seq"]) for n in received] == [
        (first.pk, 1),
        (first.pk + 1, 2),
        (first.pk, 3),
    ]
    last = received[-1]
    assert (last["title"], last["group_key"], last["group_count"]) == ("Bob", KEY, 2)
    assert last["actors"] == [
        {"id": str(bob.pk), "display": "bob"},
        {"id": str(ann.pk), "display": "ann"},
    ]
    assert "group_key" not in received[1]
    # Read, the group is over: the next event is a new notification, counted again.
    await send_json(socket, {"type": "mark_read", "ids": [first.pk]})
    read = await receive_frame(socket, wait=3)
    assert (read["type"], read["unread_count"]) == ("read", 1)
    [again] = await anotify(alice, "commented", actor=ann, group_key=KEY)
    frame = (await frames(socket, 1))[0]["notification"]
    assert (frame["id"], frame["group_count"]) == (again.pk, 1) and again.pk != first.pk
    assert await silent(socket)


@pytest.mark.django_db(transaction=True)
async def test_catch_up_sends_the_group_once_in_its_current_state(
    memory_layer: str, sockets: Open
) -> None:
    alice = await auser("alice")
    for title in ("one", "two"):
        await anotify(alice, "commented", title=title, group_key=KEY)  # seq 1, then 2
    await anotify(alice, "liked", title="other")  # seq 3
    await anotify(alice, "commented", title="three", group_key=KEY)  # seq 4
    socket, welcome = await sockets(alice, since=0)
    assert welcome == {"type": "welcome", "unread_count": 2, "unseen_count": 2, "last_seq": 4}
    replay = [f["notification"] for f in await frames(socket, 2)]
    assert [(n["seq"], n["title"], n.get("group_count")) for n in replay] == [
        (3, "other", None),
        (4, "three", 3),
    ]
    assert await silent(socket)


@pytest.mark.redis
def test_daphne_sends_the_collapsed_frame_and_replays_it_once(daphne: Any) -> None:
    alice, ann, bob = make_user("alice"), make_user("ann"), make_user("bob")
    session = daphne.login("alice", "alice")
    with servers.ws_connect(daphne, session) as ws:
        assert servers.recv_json(ws)["type"] == "welcome"
        [first] = notify(alice, "commented", actor=ann, group_key=KEY)
        assert servers.recv_json(ws)["notification"]["group_count"] == 1
        notify(alice, "commented", actor=bob, title="newest", group_key=KEY)
        frame = servers.recv_json(ws)["notification"]
    assert (frame["id"], frame["seq"], frame["group_count"]) == (first.pk, 2, 2)
    assert [a["display"] for a in frame["actors"]] == ["bob", "ann"]
    notify(alice, "commented", actor=ann, title="while away", group_key=KEY)
    with servers.ws_connect(daphne, session, since=2) as ws:
        assert servers.recv_json(ws) == {
            "type": "welcome",
            "unread_count": 1,
            "unseen_count": 1,
            "last_seq": 3,
        }
        replayed = servers.recv_json(ws)["notification"]
        assert (replayed["id"], replayed["seq"], replayed["title"]) == (first.pk, 3, "while away")
        assert [a["display"] for a in replayed["actors"]] == ["ann", "bob"]
    servers.assert_clean_log(daphne)
