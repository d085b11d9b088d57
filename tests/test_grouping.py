"""Grouping: notify(..., group_key=...) collapses into the recipient's unread notification of that key."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications import InvalidNotification, api, notify, protocol
from notifications.models import InboxState, Notification, PendingEmail
from tests.conftest import counts_are_exact, make_user
from tests.test_models import require_postgres, run_threads

User = get_user_model()
KEY = "post:42:comments"


def rows(user: Any) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user).order_by("-seq"))


def unread(user: Any) -> int:
    return InboxState.objects.get(user=user).unread_count


def test_events_of_one_group_collapse_into_one_unread_notification(alice: Any, bob: Any) -> None:
    ann, cid = make_user("ann"), make_user("cid")
    first = notify(alice, "commented", actor=ann, title="Ann commented", group_key=KEY)[0]
    other = notify(alice, "liked", title="unrelated")[0]
    again = notify(alice, "commented", actor=bob, title="Bob commented", body="b", group_key=KEY)[0]
    assert again.pk == first.pk
    assert again.seq == 3 > other.seq  # a new seq: it moves to the top
    assert [n.pk for n in rows(alice)] == [first.pk, other.pk]
    n = rows(alice)[0]
    assert (n.title, n.body, n.group_count, n.actor, n.actor_display) == (
        "Bob commented",
        "b",
        2,
        bob,
        "bob",
    )
    assert n.actors == [
        {"id": str(bob.pk), "display": "bob"},
        {"id": str(ann.pk), "display": "ann"},
    ]
    notify(alice, "commented", actor=cid, group_key=KEY)
    assert rows(alice)[0].group_count == 3
    notify(alice, "commented", group_key=KEY)  # no actor: the row shows the newest event's (none)
    assert (rows(alice)[0].actor_content_type, rows(alice)[0].actor_display) == (None, "")
    assert unread(alice) == 2  # one per group, not per event
    counts_are_exact()


def test_actors_are_newest_first_each_once_at_most_five(alice: Any) -> None:
    people = [make_user(f"p{i}") for i in range(7)]
    for person in [*people, people[2]]:
        notify(alice, "commented", actor=person, group_key=KEY)
    n = rows(alice)[0]
    assert n.group_count == 8
    assert [a["display"] for a in n.actors] == ["p2", "p6", "p5", "p4", "p3"]
    notify(alice, "commented", group_key=KEY)  # an event without actor: the actors stay
    assert len(rows(alice)[0].actors) == 5


def test_once_read_the_next_event_starts_a_new_group(alice: Any, bob: Any) -> None:
    first = notify(alice, "commented", actor=bob, group_key=KEY)[0]
    api.mark_read(alice, [first.pk])
    second = notify(alice, "commented", actor=bob, group_key=KEY)[0]
    assert second.pk != first.pk
    assert (second.group_count, unread(alice)) == (1, 1)
    assert Notification.objects.get(pk=first.pk).group_count == 1


def test_unread_again_collapses_into_the_newest_of_the_group(alice: Any) -> None:
    old = notify(alice, "x", group_key=KEY)[0]
    api.mark_read(alice, [old.pk])
    new = notify(alice, "x", group_key=KEY)[0]
    api.mark_unread(alice, [old.pk])
    assert notify(alice, "x", group_key=KEY)[0].pk == new.pk
    counts_are_exact()


def test_different_keys_and_recipients_do_not_mix(alice: Any, bob: Any) -> None:
    notify([alice, bob], "x", group_key=KEY)
    notify(alice, "x", group_key="post:43:comments")
    notify(alice, "x")
    notify(bob, "x", group_key=KEY)
    assert len(rows(alice)) == 3 and len(rows(bob)) == 1
    assert rows(bob)[0].group_count == 2
    counts_are_exact()


def test_one_notify_to_many_recipients_collapses_where_each_has_a_group(db: None) -> None:
    users = [make_user(f"u{i}") for i in range(6)]
    notify(users[:4], "x", group_key=KEY)
    api.mark_all_read(users[0])
    created = notify(users, "y", title="newest", group_key=KEY)
    assert [n.recipient_id for n in created] == [u.pk for u in users]  # in the order given
    assert [n.group_count for n in created] == [1, 2, 2, 2, 1, 1]
    assert all(n.title == "newest" and n.seq == 2 for n in created[1:4])
    assert [unread(u) for u in users] == [1, 1, 1, 1, 1, 1]
    counts_are_exact()


def _statements(recipients: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        notify(recipients, "x", title="t", group_key=KEY)
    return len(ctx.captured_queries)


def test_statements_stay_constant_in_the_number_of_recipients(db: None) -> None:
    users = User.objects.bulk_create([User(username=f"u{i}") for i in range(103)])
    small, large = users[:3], users[3:]
    assert _statements(small) == _statements(large)  # every group starts
    assert _statements(small) == _statements(large)  # every group collapses
    for user in [*small[:1], *large[:50]]:
        api.mark_all_read(user)
    assert _statements(small) == _statements(large)  # some of each


def test_the_frame_carries_the_same_id_and_the_group(alice: Any, bob: Any, sent: Any) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("django.db.transaction.on_commit", lambda f, **kw: f())
        first = notify(alice, "x", actor=bob, group_key=KEY)[0]
        notify(alice, "x", title="newest", actor=bob, group_key=KEY)
    frames = [json.loads(m[1]["frame"]) for batch in sent for m in batch if m[1].get("frame")]
    assert [f["notification"]["id"] for f in frames] == [first.pk, first.pk]
    last = frames[-1]["notification"]
    assert (last["seq"], last["title"], last["group_key"], last["group_count"]) == (
        2,
        "newest",
        KEY,
        2,
    )
    assert last["actors"] == [{"id": str(bob.pk), "display": "bob"}]


def test_a_notification_without_group_key_has_no_group_fields(alice: Any) -> None:
    payload = protocol.notification_payload(notify(alice, "x")[0])
    assert not {"group_key", "group_count", "actors"} & set(payload)


@pytest.mark.parametrize(
    "key", ["has space", "a/b", "é", "x" * 129, 42], ids=["space", "slash", "ascii", "long", "int"]
)
def test_bad_group_keys_are_refused(alice: Any, key: Any) -> None:
    with pytest.raises(InvalidNotification, match="group_key"):
        notify(alice, "x", group_key=key)
    assert not Notification.objects.exists()


def test_a_pending_digest_is_queued_once_for_a_collapsed_notification(
    alice: Any, settings: Any
) -> None:
    settings.NOTIFICATIONS = {"CATEGORIES": {"comments": {"label": "C", "email": True}}}
    n = notify(alice, "x", category="comments", group_key=KEY)[0]
    notify(alice, "x", category="comments", group_key=KEY)
    assert list(PendingEmail.objects.values_list("notification_id", flat=True)) == [n.pk]


def test_in_app_off_gets_nothing_grouped(alice: Any, bob: Any, settings: Any) -> None:
    settings.NOTIFICATIONS = {"CATEGORIES": {"comments": {"label": "C", "in_app": False}}}
    assert notify([alice, bob], "x", category="comments", group_key=KEY) == []
    assert not Notification.objects.exists()


def test_replay_gives_the_current_state_once(alice: Any) -> None:
    first = notify(alice, "x", title="one", group_key=KEY)[0]
    notify(alice, "y")
    notify(alice, "x", title="three", group_key=KEY)
    replay = api.since(alice, 0, 10)
    assert [(n.pk, n.seq, n.title) for n in replay][-1] == (first.pk, 3, "three")
    assert [n.pk for n in replay].count(first.pk) == 1


# Concurrency: every event counted once (PostgreSQL: real row locks between threads).


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_events_of_one_group_are_each_counted_once() -> None:
    require_postgres()
    alice, bob = make_user("alice"), make_user("bob")  # no inbox rows yet
    actors = [make_user(f"a{i}") for i in range(8)]

    def work(i: int) -> None:
        for j in range(15):
            # Half to both users (the bulk path), in opposite orders; half to alice alone.
            recipients = [alice, bob] if i % 2 else ([bob, alice] if j % 2 else alice)
            notify(recipients, "commented", actor=actors[i], title=f"{i}-{j}", group_key=KEY)

    run_threads(8, work)
    a = Notification.objects.get(recipient=alice)
    assert a.group_count == 8 * 15
    assert a.seq == InboxState.objects.get(user=alice).last_seq == 8 * 15
    assert len(a.actors) == 5
    b = Notification.objects.get(recipient=bob)
    assert b.group_count == 4 * 15 + 4 * 7
    assert unread(alice) == unread(bob) == 1
    counts_are_exact()


# Rules and the admin


def test_a_rule_sets_the_group_key(
    alice: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from project.demo.models import Comment, Post

    post = Post.objects.create(author=alice, title="Roadmap")
    carol = make_user("carol")
    with django_capture_on_commit_callbacks(execute=True):
        Comment.objects.create(post=post, author=bob, body="one")
        Comment.objects.create(post=post, author=carol, body="two")
    [n] = rows(alice)
    assert (n.group_key, n.group_count, n.body) == (f"post:{post.pk}:comments", 2, "two")
    assert [a["display"] for a in n.actors] == ["carol", "bob"]
    assert unread(alice) == 1


def test_a_rule_with_a_bad_group_key_notifies_no_one(
    alice: Any, bob: Any, django_capture_on_commit_callbacks: Any, caplog: Any
) -> None:
    from notifications import notify_on
    from notifications.rules import registry
    from tests.testapp.models import Project

    def bad(project: Project) -> dict[str, Any]:
        return {"recipients": project.owner, "verb": "x", "group_key": "not a key"}

    notify_on(Project, "created")(bad)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            Project.objects.create(name="Apollo", owner=alice)
    finally:
        registry.unregister(bad)
    assert not Notification.objects.exists()
    assert "group_key" in caplog.text


@pytest.fixture
def admin_client(client: Any, db: None) -> Any:
    client.force_login(User.objects.create_superuser("root", "root@example.com", "root"))
    return client


def test_the_admin_add_form_sets_the_group_key(admin_client: Any, alice: Any) -> None:
    from tests.test_admin import ADD, add_form

    for title in ("one", "two"):
        response = admin_client.post(ADD, add_form(alice, title=title, group_key=KEY))
        assert response.status_code == 302
    [n] = rows(alice)
    assert (n.title, n.group_count) == ("two", 2)
    response = admin_client.post(ADD, add_form(alice, group_key="no spaces"))
    assert response.status_code == 200 and "group_key" in response.context["adminform"].form.errors


def test_send_and_broadcast_set_the_group_key(admin_client: Any, alice: Any, bob: Any) -> None:
    from tests.test_admin import BROADCAST, USERS, action

    action(
        admin_client,
        USERS,
        "send_notification",
        [alice.pk],
        apply="1",
        title="a",
        level="info",
        group_key=KEY,
    )
    response = admin_client.post(
        BROADCAST, {"audience": "all", "title": "b", "level": "info", "group_key": KEY}, follow=True
    )
    assert response.status_code == 200
    assert [(n.title, n.group_count) for n in rows(alice)] == [("b", 2)]
    assert [(n.title, n.group_count) for n in rows(bob)] == [("b", 1)]
    response = action(
        admin_client,
        USERS,
        "send_notification",
        [bob.pk],
        apply="1",
        title="c",
        level="info",
        group_key="a b",
    )
    assert "Use ASCII letters, digits" in response.content.decode()
    assert rows(bob)[0].title == "b"


# What users see: the JSON API, the list page (no JavaScript), the bell's server markup


def _group_of(user: Any, *names: str, title: str = "newest") -> Notification:
    for name in names:
        actor = User.objects.filter(username=name).first() or make_user(name)
        notify(user, "commented", actor=actor, title=title, group_key=KEY)
    return rows(user)[0]


def test_the_json_api_lists_the_group_once_at_its_new_seq(client_a: Any, alice: Any) -> None:
    n = _group_of(alice, "ann")
    notify(alice, "other")
    _group_of(alice, "bob")
    data = client_a.get("/notifications/api/").json()
    assert [item["id"] for item in data["results"]] == [n.pk, n.pk + 1]
    first = data["results"][0]
    assert (first["seq"], first["group_key"], first["group_count"]) == (3, KEY, 2)
    assert [a["display"] for a in first["actors"]] == ["bob", "ann"]
    assert data["unread_count"] == 2
    after = client_a.get("/notifications/api/?after=1").json()["results"]
    assert [item["seq"] for item in after] == [2, 3]  # by seq cursor: the group once, at its seq


def test_the_list_page_shows_the_actors_escaped(client_a: Any, alice: Any) -> None:
    _group_of(alice, "ann", "<b>bob</b>", "cid", "dee")
    page = client_a.get("/notifications/").content.decode()
    assert "dee, cid and 2 others" in page
    _group_of(alice, "eve", "<b>bob</b>")
    page = client_a.get("/notifications/").content.decode()
    # Five actors kept of six events: the others are "at least" three.
    assert "&lt;b&gt;bob&lt;/b&gt;, eve and at least 3 others" in page
    assert "<b>bob</b>" not in page


def test_the_actors_line_in_french(alice: Any) -> None:
    from django.utils import translation

    from notifications.templatetags.notifications import notification_actors

    n = _group_of(alice, *[f"p{i}" for i in range(6)])
    with translation.override("fr"):
        assert notification_actors(n) == "p5, p4 et au moins 3 autres"
        assert notification_actors({"actors": n.actors[:3], "group_count": 3}) == (
            "p5, p4 et 1 autre"
        )
        assert notification_actors({"actors": n.actors[:2]}) == "p5 et p4"
    assert notification_actors({"actors": n.actors[:1]}) == ""


def test_the_bell_renders_the_group_with_its_actors(alice: Any) -> None:
    from django.template import Context, Template

    _group_of(alice, "ann", "bob")
    html = Template("{% load notifications %}{% notifications_bell %}").render(
        Context({"user": alice})
    )
    assert "bob and ann" in html


def test_the_notify_command_sets_the_group_key(alice: Any) -> None:
    from django.core.management import CommandError, call_command

    for title in ("one", "two"):
        call_command("notify", "alice", "--title", title, "--group-key", KEY, stdout=StringIO())
    [n] = rows(alice)
    assert (n.title, n.group_count) == ("two", 2)
    with pytest.raises(CommandError, match="group_key"):
        call_command("notify", "alice", "--group-key", "not a key", stdout=StringIO())


def test_databases_without_upsert_group_too(
    alice: Any, bob: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MySQL has no INSERT ... ON CONFLICT ... DO UPDATE: the inbox rows are created, locked, advanced.
    monkeypatch.setattr(type(connection.features), "supports_update_conflicts_with_target", False)
    notify(alice, "x", group_key=KEY)
    created = notify([alice, bob], "x", title="newest", group_key=KEY)
    assert [(n.seq, n.group_count, n.title) for n in created] == [
        (2, 2, "newest"),
        (1, 1, "newest"),
    ]
    assert (unread(alice), unread(bob)) == (1, 1)
    counts_are_exact()


# The same, from separate processes (manage.py shell), as web workers and task runners would send.

SEND_FROM_A_PROCESS = """
import time
from django.contrib.auth import get_user_model
from notifications import notify
users = get_user_model().objects.in_bulk(["alice", "bob", "{actor}"], field_name="username")
alice, bob, actor = users["alice"], users["bob"], users["{actor}"]
while time.time() < {start}:
    time.sleep(0.002)
for j in range({events}):
    notify([alice, bob] if j % 2 else [bob, alice], "commented", actor=actor, group_key="{key}")
"""


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_concurrent_events_from_several_processes_are_each_counted_once(redis_url: str) -> None:
    import subprocess
    import sys
    import time

    from tests import servers

    require_postgres()
    alice, bob = make_user("alice"), make_user("bob")
    processes, events = 6, 20
    for i in range(processes):
        make_user(f"a{i}")
    start = time.time() + 4  # every process has started by then: they send at once
    running = [
        subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                SEND_FROM_A_PROCESS.format(actor=f"a{i}", start=start, events=events, key=KEY),
            ],
            cwd=servers.ROOT,
            env=servers.subprocess_env(redis_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(processes)
    ]
    for process in running:
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 0, output
    for user in (alice, bob):
        [n] = rows(user)
        assert n.group_count == n.seq == processes * events
        assert len(n.actors) == 5
        assert unread(user) == 1
    counts_are_exact()
