"""The django-notifications-hq style signal: notify.send(actor, recipient=..., verb=..., ...)."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import TestCase

from notifications import InvalidNotification, InvalidRecipients, protocol
from notifications.compat import notify_handler
from notifications.models import Notification
from notifications.signals import notify
from tests.conftest import make_user
from tests.testapp.models import Article, Project

User = get_user_model()


def test_hq_code_works_unchanged(alice: Any, bob: Any) -> None:
    post = Article.objects.create(title="Release notes")
    project = Project.objects.create(name="Apollo")
    notify.send(
        bob,
        recipient=alice,
        verb="commented on",
        target=post,
        action_object=project,
        description="Looks good to me",
        level="warning",
    )
    n = Notification.objects.get()
    assert (n.recipient, n.actor, n.verb, n.target, n.action_object) == (
        alice,
        bob,
        "commented on",
        post,
        project,
    )
    assert n.body == "Looks good to me"  # hq's description
    assert n.level == "warning"
    assert n.title == "bob commented on Apollo on Release notes"  # as hq's str(notification)
    assert (n.seq, n.read_at) == (1, None)


def test_send_returns_the_created_notifications(alice: Any, bob: Any) -> None:
    [(_receiver, created)] = [
        r for r in notify.send(bob, recipient=[alice], verb="x") if r[0] is notify_handler
    ]
    assert created == list(Notification.objects.all())


@pytest.mark.parametrize("shape", ["user", "group", "queryset", "list", "tuple"])
def test_recipient_may_be_a_user_a_group_a_queryset_or_a_list(
    alice: Any, bob: Any, shape: str
) -> None:
    carol = make_user("carol")
    team = Group.objects.create(name="team")
    team.user_set.add(alice, carol)
    recipient = {
        "user": alice,
        "group": team,
        "queryset": User.objects.filter(username__in=["alice", "carol"]),
        "list": [alice, carol],
        "tuple": (alice, carol),
    }[shape]
    notify.send(bob, recipient=recipient, verb="pinged")
    expected = {"alice"} if shape == "user" else {"alice", "carol"}
    assert set(Notification.objects.values_list("recipient__username", flat=True)) == expected


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("success", "success"),
        ("info", "info"),
        ("warning", "warning"),
        ("error", "error"),
        ("ERROR", "error"),
        (1, "success"),  # django-notifications-hq >= 1.8: NotificationLevel.SUCCESS ...
        (2, "info"),
        (3, "warning"),
        (4, "error"),
    ],
)
def test_hq_levels(alice: Any, given: Any, stored: str) -> None:
    notify.send(alice, recipient=alice, verb="x", level=given)
    assert Notification.objects.get().level == stored


def test_default_level_is_info(alice: Any) -> None:
    notify.send(alice, recipient=alice, verb="x")
    assert Notification.objects.get().level == "info"


def test_extra_keywords_go_to_data_and_ours_are_understood(alice: Any, bob: Any) -> None:
    notify.send(
        bob,
        recipient=alice,
        verb="shipped",
        order_id=42,
        tracking=["a", "b"],
        title="Your order shipped",
        url="/orders/42/",
        category="orders",
    )
    n = Notification.objects.get()
    assert n.data == {"order_id": 42, "tracking": ["a", "b"]}
    assert (n.title, n.url, n.category) == ("Your order shipped", "/orders/42/", "orders")


def test_timestamp_and_public_are_kept(alice: Any, bob: Any) -> None:
    when = datetime.datetime(2020, 5, 1, 12, 0, tzinfo=datetime.UTC)
    [(_, [sent])] = notify.send(bob, recipient=alice, verb="x", public=False, timestamp=when, k=1)
    n = Notification.objects.get()
    assert (n.created_at, n.timestamp, sent.created_at) == (when, when, when)
    assert (n.public, n.data) == (False, {"k": 1, "hq": {"public": False}})
    with pytest.raises(InvalidNotification, match="timestamp"):
        notify.send(bob, recipient=alice, verb="x", timestamp="yesterday")


def test_a_sender_that_is_not_a_model_is_no_actor(alice: Any) -> None:
    notify.send(User, recipient=alice, verb="x")
    n = Notification.objects.get()
    assert (n.actor, n.title) == (None, "x")


ALICE = "<alice>"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"verb": "x"}, InvalidNotification),
        ({"recipient": ALICE}, InvalidNotification),
        ({"recipient": "alice", "verb": "x"}, InvalidRecipients),
        ({"recipient": None, "verb": "x"}, InvalidRecipients),
        ({"recipient": ALICE, "verb": "x", "level": "fatal"}, InvalidNotification),
        ({"recipient": ALICE, "verb": "x", "level": 7}, InvalidNotification),
        ({"recipient": ALICE, "verb": "x", "level": ["info"]}, InvalidNotification),
        ({"recipient": ALICE, "verb": ""}, InvalidNotification),
        ({"recipient": ALICE, "verb": "x", "unserialisable": object()}, InvalidNotification),
    ],
)
def test_bad_arguments_raise(alice: Any, kwargs: dict[str, Any], error: type) -> None:
    kwargs = {k: alice if v == ALICE else v for k, v in kwargs.items()}
    with pytest.raises(error):
        notify.send(alice, **kwargs)
    assert Notification.objects.count() == 0


def test_the_receiver_is_connected_once(alice: Any) -> None:
    from django.apps import apps

    apps.get_app_config("notifications").ready()  # ready() twice must not connect it twice
    notify.send(alice, recipient=alice, verb="x")
    assert Notification.objects.count() == 1


def test_delivered_live_after_commit_only(alice: Any, bob: Any, sent: list[Any]) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            notify.send(bob, recipient=alice, verb="rolled back")
            raise RuntimeError
        notify.send(bob, recipient=alice, verb="kept")
        assert sent == []
    [[(group, message)]] = sent
    assert group == protocol.user_group(alice.pk)
    assert json.loads(message["frame"])["notification"]["verb"] == "kept"
    assert list(Notification.objects.values_list("verb", flat=True)) == ["kept"]
