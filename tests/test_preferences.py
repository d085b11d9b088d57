"""Preferences: declared defaults, each user's choices, the every-category switch, and notify() honouring
in_app at a constant number of queries."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications import checks, delivery, notify, preferences, protocol
from notifications.api import notify_many
from notifications.conf import app_settings
from notifications.exceptions import InvalidPreferences
from notifications.models import Notification, Preference
from tests import servers
from tests.conftest import make_user, make_users

User = get_user_model()

CATEGORIES = {
    "comments": {"label": "Comments", "in_app": True, "push": True, "email": False},
    "digest": {"label": "Weekly digest", "in_app": False, "push": False, "email": True},
}


@pytest.fixture(autouse=True)
def categories(settings: Any) -> None:
    settings.NOTIFICATIONS = {"CATEGORIES": CATEGORIES}


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[delivery.Message]:
    """Every message handed to live delivery."""
    messages: list[delivery.Message] = []
    monkeypatch.setattr(delivery, "send", lambda batch: messages.extend(batch))
    return messages


# wanted()


def test_a_declared_default_applies_until_the_user_changes_it(alice: Any, bob: Any) -> None:
    pks = {alice.pk, bob.pk}
    assert preferences.wanted(pks, "comments", "in_app") == pks
    assert preferences.wanted(pks, "comments", "email") == set()
    preferences.update(alice, {"categories": {"comments": {"in_app": False, "email": True}}})
    assert preferences.wanted(pks, "comments", "in_app") == {bob.pk}
    assert preferences.wanted(pks, "comments", "email") == {alice.pk}
    assert preferences.wanted(pks, "digest", "email") == pks  # another category: untouched


def test_a_category_not_declared_is_always_on(alice: Any) -> None:
    for category in ("", "billing", "comments.extra"):
        assert preferences.wanted([alice.pk], category, "email") == {alice.pk}
    Preference.objects.create(user=alice, category="billing", channel="email", enabled=False)
    assert preferences.wanted([alice.pk], "billing", "email") == {alice.pk}


def test_the_every_category_switch_wins_over_each_category(alice: Any, bob: Any) -> None:
    preferences.update(
        alice, {"categories": {"digest": {"email": True}}, "channels": {"email": False}}
    )
    for category in ("digest", "comments", "", "undeclared"):
        assert preferences.wanted([alice.pk, bob.pk], category, "email") == (
            {bob.pk} if category != "comments" else set()
        )


def test_unsubscribe_turns_email_off_everywhere(alice: Any) -> None:
    preferences.update(alice, {"categories": {"comments": {"email": True}}})
    preferences.unsubscribe_email(alice)
    assert preferences.wanted([alice.pk], "comments", "email") == set()
    assert preferences.wanted([alice.pk], "", "email") == set()
    assert preferences.wanted([alice.pk], "comments", "in_app") == {alice.pk}
    assert preferences.as_dict(alice)["channels"] == {"in_app": True, "push": True, "email": False}


@pytest.mark.parametrize("n", [3, 2500])
def test_wanted_is_one_query_whatever_the_number_of_users(db: None, settings: Any, n: int) -> None:
    users = make_users(n)
    preferences.update(users[0], {"categories": {"comments": {"in_app": False}}})
    preferences.update(users[1], {"channels": {"in_app": False}})
    preferences.update(users[2], {"categories": {"digest": {"in_app": True}}})
    pks = [u.pk for u in users]
    with CaptureQueriesContext(connection) as ctx:
        on = preferences.wanted(pks, "comments", "in_app")
        on_digest = preferences.wanted(pks, "digest", "in_app")
    assert len(ctx.captured_queries) == 2
    assert on == set(pks[2:])
    assert on_digest == {pks[2]}


def test_filter_users_agrees_with_wanted(db: None) -> None:
    users = make_users(6)
    preferences.update(users[0], {"categories": {"comments": {"in_app": False}}})
    preferences.update(users[1], {"channels": {"in_app": False}})
    preferences.update(users[2], {"categories": {"digest": {"in_app": True}}})
    preferences.update(users[3], {"categories": {"digest": {"in_app": True}}})
    preferences.update(users[3], {"channels": {"in_app": False}})
    everyone = User.objects.all()
    pks = [u.pk for u in users]
    for category in ("comments", "digest", "other"):
        filtered = set(
            preferences.filter_users(everyone, category, "in_app").values_list("pk", flat=True)
        )
        assert filtered == preferences.wanted(pks, category, "in_app"), category


# update(): partial, validated, all or nothing


def test_update_changes_only_what_it_names(alice: Any) -> None:
    preferences.update(alice, {"categories": {"comments": {"push": False}}})
    preferences.update(alice, {"categories": {"digest": {"email": False}}})
    assert preferences.as_dict(alice) == {
        "categories": {
            "comments": {"label": "Comments", "in_app": True, "push": False, "email": False},
            "digest": {"label": "Weekly digest", "in_app": False, "push": False, "email": False},
        },
        "channels": {"in_app": True, "push": True, "email": True},
    }
    preferences.update(alice, {"categories": {"comments": {"push": True}}})
    assert preferences.as_dict(alice)["categories"]["comments"]["push"] is True
    assert Preference.objects.filter(user=alice).count() == 2  # one row per choice, updated


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "must be a JSON object"),
        ({"categories": [], "channels": {}}, '"categories" must be an object'),
        ({"cats": {}}, "Unknown key(s) 'cats'"),
        ({"categories": {"nope": {"email": True}}}, "Unknown category 'nope'"),
        ({"categories": {"comments": {"sms": True}}}, "unknown channel 'sms'"),
        ({"categories": {"comments": {"email": "yes"}}}, "must be true or false"),
        ({"categories": {"comments": {"email": 1}}}, "must be true or false"),
        ({"categories": {"comments": True}}, "must be an object"),
        ({"channels": {"label": "x"}}, "unknown channel 'label'"),
    ],
    ids=repr,
)
def test_bad_input_raises_and_changes_nothing(alice: Any, body: Any, message: str) -> None:
    good_then_bad = (
        {"categories": {"digest": {"email": False}}, **body} if isinstance(body, dict) else body
    )
    with pytest.raises(InvalidPreferences) as raised:
        preferences.update(alice, good_then_bad)
    assert message in str(raised.value)
    assert not Preference.objects.filter(user=alice).exists()


def test_label_is_read_only_and_may_be_sent_back(alice: Any) -> None:
    body = preferences.as_dict(alice)
    body["categories"]["comments"]["label"] = "Renamed"
    body["categories"]["comments"]["email"] = True
    preferences.update(alice, body)
    assert preferences.as_dict(alice)["categories"]["comments"] == {
        "label": "Comments",
        "in_app": True,
        "push": True,
        "email": True,
    }


# notify() honours in_app


def test_in_app_off_stores_nothing_and_sends_nothing_live(
    alice: Any, bob: Any, sent: list[delivery.Message], django_capture_on_commit_callbacks: Any
) -> None:
    preferences.update(alice, {"categories": {"comments": {"in_app": False}}})
    with django_capture_on_commit_callbacks(execute=True):
        created = notify([alice, bob], "commented", category="comments")
        other = notify([alice, bob], "joined", category="other")
    assert [n.recipient_id for n in created] == [bob.pk]
    assert not Notification.objects.filter(recipient=alice, category="comments").exists()
    assert [n.recipient_id for n in other] == [alice.pk, bob.pk]
    # alice's inbox counts only what she got: seq 1 is the "other" one.
    assert Notification.objects.get(recipient=alice).seq == 1
    groups = [group for group, _ in sent]
    assert len(groups) == 3 and groups.count(protocol.user_group(alice.pk)) == 1


def test_a_category_off_by_default_stores_nothing_unless_turned_on(alice: Any, bob: Any) -> None:
    preferences.update(bob, {"categories": {"digest": {"in_app": True}}})
    created = notify([alice, bob], "weekly", category="digest")
    assert [n.recipient_id for n in created] == [bob.pk]


def test_everyone_muted_returns_nothing(alice: Any) -> None:
    preferences.update(alice, {"channels": {"in_app": False}})
    assert notify(alice, "x", category="comments") == []
    assert notify(alice, "y") == []
    assert not Notification.objects.exists()


def test_notify_many_honours_in_app(db: None) -> None:
    users = make_users(7)
    preferences.update(users[0], {"categories": {"comments": {"in_app": False}}})
    preferences.update(users[1], {"channels": {"in_app": False}})
    assert notify_many(User.objects.all(), "x", category="comments", batch_size=2) == 5
    assert set(Notification.objects.values_list("recipient_id", flat=True)) == {
        u.pk for u in users[2:]
    }


def _notify_queries(recipients: list[Any]) -> int:
    with CaptureQueriesContext(connection) as ctx:
        notify(recipients, "x", category="comments")
    return len(ctx.captured_queries)


def test_preferences_cost_a_constant_number_of_queries_per_notify(db: None) -> None:
    users = make_users(123)
    for user in users[::3]:
        preferences.update(user, {"categories": {"comments": {"in_app": False}}})
    small, large = users[:3], users[3:]
    _notify_queries(small + large)  # every inbox row exists from here on
    assert _notify_queries(small) == _notify_queries(large)


@pytest.mark.redis
def test_a_muted_category_never_reaches_an_open_socket(daphne: Any) -> None:
    alice = make_user("alice")
    preferences.update(alice, {"categories": {"comments": {"in_app": False}}})
    session = daphne.login("alice", "alice")
    with servers.ws_connect(daphne, session) as ws:
        assert servers.recv_json(ws)["type"] == "welcome"
        notify(alice, "commented", title="muted", category="comments")
        notify(alice, "joined", title="wanted", category="other")
        frame = servers.recv_json(ws)
    assert (frame["notification"]["title"], frame["notification"]["seq"]) == ("wanted", 1)


# The CATEGORIES setting: validated by the same rules as every setting (E004 with a clear message)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([("comments", {})], 'a dict {"<key>": {"label": str'),
        ({"bad key": {"label": "x"}}, "the key 'bad key' is not a category key"),
        ({"": {"label": "x"}}, "the key '' is not a category key"),
        ({"comments": "Comments"}, "'comments' maps to 'Comments'"),
        ({"comments": {"label": "C", "sms": True}}, "'comments' has unknown keys ['sms']"),
        ({"comments": {"label": ""}}, "the label of 'comments' is not a non-empty string"),
        ({"comments": {"label": "C", "email": "no"}}, "'comments'['email'] is not True or False"),
    ],
    ids=repr,
)
def test_a_bad_category_declaration_is_reported(settings: Any, value: Any, message: str) -> None:
    settings.NOTIFICATIONS = {"CATEGORIES": value}
    [problem] = checks.check_settings()
    assert problem.id == "notifications.E004"
    assert "NOTIFICATIONS['CATEGORIES']" in problem.msg and message in problem.msg
    assert problem.hint


def test_a_declaration_may_leave_out_the_label_and_channels(settings: Any) -> None:
    settings.NOTIFICATIONS = {"CATEGORIES": {"billing": {"email": False}}}
    assert checks.check_settings() == []
    declared = app_settings.CATEGORIES["billing"]
    assert (declared.label, declared.in_app, declared.push, declared.email) == (
        "billing",
        True,
        True,
        False,
    )
