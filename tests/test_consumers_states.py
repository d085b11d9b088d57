"""Seen, archive, unarchive and snooze over the socket, and a snoozed notification waking live.

Driven in-process with WebsocketCommunicator through project.asgi, on both layers (`any_layer`).
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from notifications import anotify, api, delivery, states
from notifications.models import Notification
from notifications.testing import receive_frame
from tests.test_consumers import (
    Open,
    auser,
    create_notifications,
    memory_layer,
    send_json,
    silent,
    sockets,
)

pytestmark = [pytest.mark.django_db(transaction=True)]
__all__ = ["memory_layer", "sockets"]  # fixtures, imported to be used here


async def test_mark_seen_goes_to_every_socket_of_the_user(any_layer: str, sockets: Open) -> None:
    alice, bob = await auser("alice"), await auser("bob")
    n1, n2 = await create_notifications(alice, 2)
    assert await sync_to_async(delivery.flush)()
    (a1, welcome), (a2, _), (b1, _) = await sockets(alice), await sockets(alice), await sockets(bob)
    assert (welcome["unread_count"], welcome["unseen_count"]) == (2, 2)
    await send_json(a1, {"type": "mark_seen", "ids": [n1.pk, n2.pk]})
    expected = {"type": "seen", "ids": [n1.pk, n2.pk], "unread_count": 2, "unseen_count": 0}
    assert await receive_frame(a1) == expected
    assert await receive_frame(a2) == expected
    assert await silent(b1)


async def test_archive_and_unarchive_over_the_socket(any_layer: str, sockets: Open) -> None:
    alice = await auser("alice")
    n1, _n2 = await create_notifications(alice, 2)
    assert await sync_to_async(delivery.flush)()
    (a1, _), (a2, _) = await sockets(alice), await sockets(alice)
    await send_json(a1, {"type": "archive", "ids": [n1.pk]})
    expected = {"type": "archived", "ids": [n1.pk], "unread_count": 1, "unseen_count": 1}
    assert await receive_frame(a1) == expected
    assert await receive_frame(a2) == expected
    await send_json(a2, {"type": "unarchive", "ids": [n1.pk]})
    for socket in (a1, a2):
        frame = await receive_frame(socket)
        assert (frame["type"], frame["ids"], frame["unread_count"]) == ("unarchived", [n1.pk], 2)
        assert [n["id"] for n in frame["notifications"]] == [n1.pk]


async def test_snooze_over_the_socket_then_wake_live(any_layer: str, sockets: Open) -> None:
    alice = await auser("alice")
    n1, _n2 = await create_notifications(alice, 2)
    assert await sync_to_async(delivery.flush)()
    (a1, _), (a2, _) = await sockets(alice), await sockets(alice)
    await send_json(
        a1, {"type": "snooze", "ids": [n1.pk], "preset": "tomorrow", "tz": "Asia/Tokyo"}
    )
    for socket in (a1, a2):
        frame = await receive_frame(socket)
        assert (frame["type"], frame["ids"], frame["unread_count"]) == ("snoozed", [n1.pk], 1)
    until = await sync_to_async(
        lambda: Notification.objects.values_list("snoozed_until", flat=True).get(pk=n1.pk)
    )()
    assert frame["until"] == until.isoformat().replace("+00:00", "Z")
    assert until.astimezone(states._zone("Asia/Tokyo")).hour == 9

    # Waking needs no socket of its own: the open ones get it as new, with the next seq.
    assert await sync_to_async(api.wake_snoozed)(until + timedelta(seconds=1)) == 1
    for socket in (a1, a2):
        frame = await receive_frame(socket)
        assert frame["type"] == "notification"
        woken = frame["notification"]
        assert (woken["id"], woken["seq"], woken["read"], woken["seen"]) == (n1.pk, 3, False, False)
        # Then the exact counts: a client cannot count a woken grouped notification by itself.
        counts = await receive_frame(socket)
        assert counts == {"type": "unread", "ids": [n1.pk], "unread_count": 2, "unseen_count": 2}


async def test_a_woken_grouped_notification_comes_with_the_exact_counts(
    memory_layer: str, sockets: Open
) -> None:
    alice = await auser("alice")
    for title in ("ann commented", "bob commented"):
        await anotify(alice, "comments", title=title, group_key="post:1")
    [grouped] = await sync_to_async(list)(Notification.objects.filter(recipient=alice))
    assert grouped.group_count == 2
    await sync_to_async(states.snooze)(alice, [grouped.pk], timezone.now() + timedelta(hours=1))
    assert await sync_to_async(delivery.flush)()
    (socket, welcome) = await sockets(alice)
    assert welcome["unread_count"] == 0
    assert await sync_to_async(api.wake_snoozed)(timezone.now() + timedelta(hours=2)) == 1
    frame = await receive_frame(socket)
    assert (frame["type"], frame["notification"]["group_count"]) == ("notification", 2)
    counts = await receive_frame(socket)
    assert (counts["type"], counts["unread_count"], counts["unseen_count"]) == ("unread", 1, 1)


async def test_snooze_until_an_explicit_time(memory_layer: str, sockets: Open) -> None:
    alice = await auser("alice")
    [n] = await create_notifications(alice, 1)
    assert await sync_to_async(delivery.flush)()
    (a1, _) = await sockets(alice)
    until = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    await send_json(a1, {"type": "snooze", "ids": [n.pk], "until": until.isoformat()})
    frame = await receive_frame(a1)
    assert frame["type"] == "snoozed" and frame["unread_count"] == 0
    assert frame["until"] == until.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("command", "code"),
    [
        ({"type": "snooze", "ids": [1], "preset": "someday"}, "invalid"),
        ({"type": "snooze", "ids": [1], "preset": "tomorrow", "tz": "Nowhere/Land"}, "invalid"),
        ({"type": "snooze", "ids": [1], "until": "2001-01-01T00:00:00Z"}, "invalid"),  # past
        ({"type": "archive", "ids": "1"}, "invalid"),
        ({"type": "mark_seen", "ids": []}, "invalid"),
    ],
)
async def test_bad_state_commands_get_an_error_frame(
    memory_layer: str, sockets: Open, command: dict[str, Any], code: str
) -> None:
    alice = await auser("alice")
    (a1, _) = await sockets(alice)
    await send_json(a1, command)
    frame = await receive_frame(a1)
    assert frame["type"] == "error" and frame["code"] == code, frame


async def test_another_users_ids_are_not_found(memory_layer: str, sockets: Open) -> None:
    alice, bob = await auser("alice"), await auser("bob")
    [theirs] = await create_notifications(bob, 1)
    (a1, _) = await sockets(alice)
    for kind in ("mark_seen", "archive", "unarchive"):
        await send_json(a1, {"type": kind, "ids": [theirs.pk]})
        assert (await receive_frame(a1))["code"] == "not_found"
    await send_json(a1, {"type": "snooze", "ids": [theirs.pk], "preset": "1h"})
    assert (await receive_frame(a1))["code"] == "not_found"
    state = await sync_to_async(
        lambda: Notification.objects.values_list("seen_at", "archived_at", "snoozed_until").get()
    )()
    assert state == (None, None, None)
