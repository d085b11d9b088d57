"""The admin: the notification list, its actions, adding, the user action and the Broadcast page."""

from __future__ import annotations

import contextlib
import json
import re
import time
import tracemalloc
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client, TestCase
from django.utils import timezone

from notifications import api, delivery, notify, protocol
from notifications.admin import add_user_actions, send_notification
from notifications.models import InboxState, Notification
from notifications.testing import connect, receive_frame
from project.asgi import application
from tests.conftest import counts_are_exact, make_user

User = get_user_model()
CHANGELIST = "/admin/notifications/notification/"
ADD = "/admin/notifications/notification/add/"
BROADCAST = "/admin/notifications/notification/broadcast/"
USERS = "/admin/testapp/user/"


def frames(sent: list[list[delivery.Message]], user: Any) -> list[dict[str, Any]]:
    group = protocol.user_group(user.pk)
    return [json.loads(m["frame"]) for batch in sent for g, m in batch if g == group]


@pytest.fixture
def superuser(db: None) -> Any:
    return User.objects.create_superuser("root", "root@example.com", "root")


@pytest.fixture
def admin_client(client: Client, superuser: Any) -> Client:
    client.force_login(superuser)
    return client


def staff(username: str, *perms: str) -> Any:
    user = make_user(username, is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return User.objects.get(pk=user.pk)  # no cached permissions


@contextlib.contextmanager
def committed() -> Iterator[None]:
    """Run what the request registered with on_commit, as a real commit would."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        yield


def action(client: Client, path: str, name: str, pks: list[Any], **extra: Any) -> Any:
    data = {"action": name, "_selected_action": [str(pk) for pk in pks], "index": "0", **extra}
    return client.post(path, data, follow=True)


# The list


def test_changelist_shows_recipient_title_level_category_read_state_and_date(
    admin_client: Client, alice: Any
) -> None:
    notify(alice, "x", title="Deploy done", level="success", category="deploys")
    page = admin_client.get(CHANGELIST).content.decode()
    for text in ["Deploy done", "alice", "Success", "deploys", "Read", "Created at", "Category"]:
        assert text in page
    assert "column-title_or_verb" in page and "column-recipient" in page
    assert 'alt="False"' in page  # the unread icon of the read column


def test_filters_and_search(admin_client: Client, alice: Any, bob: Any) -> None:
    [a1] = notify(alice, "x", title="alpha", level="warning", category="ops")
    notify(bob, "x", title="beta")
    api.mark_read(alice, [a1.pk])
    notify(alice, "x", title="gamma")

    def titles(query: str) -> set[str]:
        response = admin_client.get(CHANGELIST + query)
        assert response.status_code == 200
        return {n.title for n in response.context["cl"].result_list}

    assert titles("?read=no") == {"beta", "gamma"}
    assert titles("?read=yes") == {"alpha"}
    assert titles("?level__exact=warning") == {"alpha"}
    assert titles("?category__exact=ops") == {"alpha"}
    assert titles("?q=bob") == {"beta"}  # by the recipient's username
    assert titles("?q=gamm") == {"gamma"}


def test_the_list_costs_a_constant_number_of_queries(
    admin_client: Client, alice: Any, django_assert_max_num_queries: Any
) -> None:
    users = [make_user(f"u{i}") for i in range(30)]
    notify(users, "x", title="t")
    with django_assert_max_num_queries(12):
        assert admin_client.get(CHANGELIST).status_code == 200


# Actions keep counts exact and update the sockets


def test_mark_read_and_unread_actions(
    admin_client: Client, alice: Any, bob: Any, sent: list[Any]
) -> None:
    a = notify(alice, "x", title="a1") + notify(alice, "x", title="a2")
    b = notify(bob, "x", title="b1")
    pks = [n.pk for n in a + b]
    with committed():
        response = action(admin_client, CHANGELIST, "mark_read", pks)
    assert "Marked 3 notifications read." in response.content.decode()
    assert (api.unread_count(alice), api.unread_count(bob)) == (0, 0)
    assert frames(sent, alice)[-1] == {
        "type": "read",
        "ids": sorted(n.pk for n in a),
        "unread_count": 0,
        "unseen_count": 0,
    }
    assert frames(sent, bob)[-1]["type"] == "read"
    counts_are_exact()

    with committed():
        response = action(admin_client, CHANGELIST, "mark_unread", [a[0].pk])
    assert "Marked 1 notification unread." in response.content.decode()
    assert api.unread_count(alice) == 1
    assert frames(sent, alice)[-1] == {
        "type": "unread",
        "ids": [a[0].pk],
        "unread_count": 1,
        "unseen_count": 0,
    }
    counts_are_exact()


def test_archive_and_unarchive_actions_keep_counts_exact_and_reach_the_sockets(
    admin_client: Client, alice: Any, bob: Any, sent: list[Any]
) -> None:
    a = notify(alice, "x", title="a1") + notify(alice, "x", title="a2")
    b = notify(bob, "x", title="b1")
    with committed():
        response = action(admin_client, CHANGELIST, "archive", [a[0].pk, b[0].pk])
    assert "Archived 2 notifications." in response.content.decode()
    assert (api.unread_count(alice), api.unread_count(bob)) == (1, 0)
    assert frames(sent, alice)[-1] == {
        "type": "archived",
        "ids": [a[0].pk],
        "unread_count": 1,
        "unseen_count": 1,
    }
    counts_are_exact()

    with committed():
        response = action(admin_client, CHANGELIST, "unarchive", [a[0].pk])
    assert "Moved 1 notification back to the inbox." in response.content.decode()
    assert api.unread_count(alice) == 2
    frame = frames(sent, alice)[-1]
    assert (frame["type"], frame["ids"], frame["unread_count"]) == ("unarchived", [a[0].pk], 2)
    counts_are_exact()


def test_the_list_shows_and_filters_each_notifications_box_and_events(
    admin_client: Client, alice: Any
) -> None:
    [archived] = notify(alice, "x", title="archived")
    [snoozed] = notify(alice, "x", title="snoozed")
    notify(alice, "x", title="grouped", group_key="g")
    notify(alice, "x", title="grouped", group_key="g")
    api.archive(alice, [archived.pk])
    api.snooze(alice, [snoozed.pk], timezone.now() + timedelta(hours=1))

    def titles(query: str) -> set[str]:
        response = admin_client.get(CHANGELIST + query)
        assert response.status_code == 200
        return {n.title for n in response.context["cl"].result_list}

    assert titles("?box=inbox") == {"grouped"}
    assert titles("?box=archived") == {"archived"}
    assert titles("?box=snoozed") == {"snoozed"}
    page = admin_client.get(CHANGELIST).content.decode()
    assert "column-box" in page and "column-group_count" in page
    assert "Archived" in page and "Snoozed until" in page and "Inbox" in page
    assert '<td class="field-group_count">2</td>' in page


def test_mark_read_twice_changes_nothing(admin_client: Client, alice: Any) -> None:
    [n] = notify(alice, "x")
    action(admin_client, CHANGELIST, "mark_read", [n.pk])
    response = action(admin_client, CHANGELIST, "mark_read", [n.pk])
    assert "Marked 0 notifications read." in response.content.decode()
    assert api.unread_count(alice) == 0
    counts_are_exact()


def test_delete_action_keeps_counts_exact_and_pushes_deleted(
    admin_client: Client, alice: Any, bob: Any, sent: list[Any]
) -> None:
    a = notify(alice, "x") + notify(alice, "x") + notify(alice, "x")
    b = notify(bob, "x")
    api.mark_read(alice, [a[0].pk])
    doomed = [a[0].pk, a[1].pk, b[0].pk]
    confirm = action(admin_client, CHANGELIST, "delete_selected", doomed)
    assert b"Are you sure" in confirm.content
    assert Notification.objects.count() == 4
    with committed():
        action(admin_client, CHANGELIST, "delete_selected", doomed, post="yes")
    assert list(Notification.objects.values_list("pk", flat=True)) == [a[2].pk]
    assert (api.unread_count(alice), api.unread_count(bob)) == (1, 0)
    counts_are_exact()
    assert frames(sent, alice)[-1] == {
        "type": "deleted",
        "ids": sorted([a[0].pk, a[1].pk]),
        "unread_count": 1,
        "unseen_count": 1,
    }
    assert frames(sent, bob)[-1] == {
        "type": "deleted",
        "ids": [b[0].pk],
        "unread_count": 0,
        "unseen_count": 0,
    }


def test_delete_view_keeps_counts_exact(admin_client: Client, alice: Any, sent: list[Any]) -> None:
    [n, keep] = notify(alice, "x") + notify(alice, "x")
    with committed():
        admin_client.post(f"{CHANGELIST}{n.pk}/delete/", {"post": "yes"})
    assert list(Notification.objects.values_list("pk", flat=True)) == [keep.pk]
    assert api.unread_count(alice) == 1
    assert frames(sent, alice)[-1] == {
        "type": "deleted",
        "ids": [n.pk],
        "unread_count": 1,
        "unseen_count": 1,
    }


def test_mark_read_skips_notifications_deleted_meanwhile(
    admin_client: Client, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    [a, b] = notify(alice, "x") + notify(alice, "x")
    real = api.mark_read

    def racing(user: Any, ids: Any) -> list[int]:
        if b.pk in ids and Notification.objects.filter(pk=b.pk).exists():
            api.delete(alice, [b.pk])  # another request deletes it between selection and action
        return real(user, ids)

    monkeypatch.setattr(api, "mark_read", racing)
    response = action(admin_client, CHANGELIST, "mark_read", [a.pk, b.pk])
    assert "Marked 1 notification read." in response.content.decode()
    assert api.unread_count(alice) == 0
    counts_are_exact()


def test_actions_need_the_change_permission(client: Client, alice: Any) -> None:
    viewer = staff("viewer", "notifications.view_notification")
    client.force_login(viewer)
    [n] = notify(alice, "x")
    response = action(client, CHANGELIST, "mark_read", [n.pk])
    assert response.status_code == 200
    assert api.unread_count(alice) == 1


@pytest.mark.django_db(transaction=True)
async def test_admin_action_reaches_the_open_socket(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    alice = await sync_to_async(make_user)("alice")
    root = await sync_to_async(User.objects.create_superuser)("root", "r@example.com", "root")
    [n] = await api.anotify(alice, "x", title="hello")
    socket, welcome = await connect(application, alice, origin="http://testserver")
    try:
        assert welcome["unread_count"] == 1
        client = Client()
        await sync_to_async(client.force_login)(root)
        await sync_to_async(action)(client, CHANGELIST, "mark_read", [n.pk])
        assert await receive_frame(socket) == {
            "type": "read",
            "ids": [n.pk],
            "unread_count": 0,
            "unseen_count": 0,
        }
        await sync_to_async(client.post)(ADD, add_form(alice, title="from the admin"))
        frame = await receive_frame(socket)
        assert frame["notification"]["title"] == "from the admin"
    finally:
        await socket.disconnect()


# Adding a notification


def add_form(user: Any, **fields: Any) -> dict[str, Any]:
    return {
        "recipient": str(user.pk),
        "verb": "said",
        "title": "Hello",
        "body": "",
        "url": "",
        "level": "info",
        "category": "",
        "data": "{}",
        **fields,
    }


def test_adding_goes_through_notify_and_delivers_live(
    admin_client: Client, alice: Any, sent: list[Any]
) -> None:
    notify(alice, "x", title="first")
    with committed():
        response = admin_client.post(ADD, add_form(alice, url="/a/", level="warning"))
    assert response.status_code == 302
    n = Notification.objects.get(title="Hello")
    assert (n.seq, n.url, n.level, n.recipient) == (2, "/a/", "warning", alice)
    assert api.unread_count(alice) == 2
    [push] = [f for f in frames(sent, alice) if f["type"] == "notification"][-1:]
    assert push["notification"]["id"] == n.pk
    assert response["Location"] == CHANGELIST  # the admin saw the created row


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("url", "javascript:alert(1)"),
        ("category", "has spaces"),
        ("level", "fatal"),
        ("verb", ""),
        ("recipient", "00000000-0000-0000-0000-000000000000"),
        ("data", "{not json"),
    ],
)
def test_bad_input_in_the_add_form_is_a_form_error(
    admin_client: Client, alice: Any, field: str, value: str
) -> None:
    response = admin_client.post(ADD, add_form(alice, **{field: value}))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert Notification.objects.count() == 0


def test_the_add_page_renders(admin_client: Client) -> None:
    page = admin_client.get(ADD).content.decode()
    for name in ["recipient", "verb", "title", "body", "url", "level", "category"]:
        assert f'name="{name}"' in page
    assert 'name="seq"' not in page and 'name="read_at"' not in page


def test_a_notification_is_read_only_once_created(
    admin_client: Client, alice: Any, bob: Any
) -> None:
    [n] = notify(alice, "x", title="original", actor=bob, target=bob)
    url = f"{CHANGELIST}{n.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert "original" in page and 'name="title"' not in page
    admin_client.post(url, {"title": "changed", "read_at": "2020-01-01"})
    n.refresh_from_db()
    assert (n.title, n.read_at) == ("original", None)


# The user admin's "Send a notification"


def test_send_notification_is_added_to_the_registered_user_admin() -> None:
    user_admin = admin.site._registry[User]
    assert type(user_admin).__name__ == "CustomUserAdmin"  # the project's own, unchanged otherwise
    assert send_notification in user_admin.actions


def test_add_user_actions_on_another_site() -> None:
    site = AdminSite(name="other")
    assert add_user_actions(site) is False
    site.register(User)
    assert add_user_actions(site) is True
    assert add_user_actions(site) is True
    assert list(site._registry[User].actions).count(send_notification) == 1


def test_send_notification_shows_the_intermediate_form(
    admin_client: Client, alice: Any, bob: Any
) -> None:
    response = action(admin_client, USERS, "send_notification", [alice.pk, bob.pk])
    page = response.content.decode()
    assert response.templates[0].name == "admin/notifications/send_notification.html"
    assert "2 selected users" in page
    for name in ["title", "body", "url", "level"]:
        assert f'name="{name}"' in page
    assert Notification.objects.count() == 0


def test_send_notification_notifies_the_selected_users(
    admin_client: Client, superuser: Any, alice: Any, bob: Any, sent: list[Any]
) -> None:
    carol = make_user("carol")
    with committed():
        response = action(
            admin_client,
            USERS,
            "send_notification",
            [alice.pk, bob.pk],
            apply="1",
            title="Maintenance",
            body="Tonight",
            url="/status/",
            level="warning",
        )
    assert "Sent to 2 users." in response.content.decode()
    for user in (alice, bob):
        n = Notification.objects.get(recipient=user)
        assert (n.title, n.body, n.url, n.level, n.actor) == (
            "Maintenance",
            "Tonight",
            "/status/",
            "warning",
            superuser,
        )
        assert frames(sent, user)[0]["notification"]["title"] == "Maintenance"
    assert not Notification.objects.filter(recipient=carol).exists()
    counts_are_exact()


def test_send_notification_to_everyone_selected_across_pages(
    admin_client: Client, superuser: Any, alice: Any
) -> None:
    response = action(
        admin_client,
        USERS,
        "send_notification",
        [alice.pk],
        select_across="1",
        apply="1",
        title="All",
        level="info",
    )
    assert "Sent to 2 users." in response.content.decode()  # alice and root


def test_send_notification_with_bad_input_redisplays_the_form(
    admin_client: Client, alice: Any
) -> None:
    response = action(
        admin_client,
        USERS,
        "send_notification",
        [alice.pk],
        apply="1",
        title="",
        url="javascript:x",
        level="info",
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"title", "url"}
    assert f'value="{alice.pk}"' in response.content.decode()  # the selection is kept
    assert Notification.objects.count() == 0


def form_rows(page: str) -> dict[str, str]:
    """The markup of each admin form row (``<div class="form-row ...">``), by its field's name."""
    rows = {}
    for chunk in page.split('<div class="form-row')[1:]:
        chunk = chunk.split("</fieldset>")[0]
        name = re.search(r'name="(\w+)"', chunk)
        assert name, chunk
        rows[name[1]] = chunk
    return rows


def has_errors_class(row: str) -> bool:
    """The row is marked as having errors: on the row itself (Django 5.2) or its field's container
    inside it (Django 6)."""
    return re.search(r'^ errors|class="[^"]*\berrors\b', row) is not None


def test_send_notification_uses_the_admin_form_layout(admin_client: Client, alice: Any) -> None:
    response = action(
        admin_client, USERS, "send_notification", [alice.pk], apply="1", title="", level="info"
    )
    page = response.content.decode()
    assert "admin/includes/fieldset.html" in [t.name for t in response.templates]
    assert '<fieldset class="module aligned ' in page
    assert 'class="errornote"' in page
    rows = form_rows(page)
    assert list(rows) == ["title", "body", "url", "level", "group_key"]
    # The error sits in the title's own row; the other rows have none.
    assert has_errors_class(rows["title"]) and 'class="errorlist"' in rows["title"]
    assert all("errorlist" not in rows[name] for name in ("body", "url", "level"))
    assert 'class="help"' in rows["url"] and "an http(s) URL" in rows["url"]
    assert 'aria-describedby="id_url_helptext"' in rows["url"]


def test_send_notification_needs_the_add_permission(client: Client, alice: Any) -> None:
    clerk = staff("clerk", "testapp.view_user", "testapp.change_user")
    client.force_login(clerk)
    response = action(client, USERS, "send_notification", [alice.pk], apply="1", title="Hi")
    assert "You may not send notifications" in response.content.decode()
    assert Notification.objects.count() == 0


# Broadcast


def broadcast(client: Client, **fields: Any) -> Any:
    data = {"audience": "all", "title": "Hello all", "body": "", "url": "", "level": "info"}
    return client.post(BROADCAST, {**data, **fields}, follow=True)


def test_broadcast_needs_the_permission(client: Client, alice: Any) -> None:
    assert client.get(BROADCAST).status_code == 302  # not staff: to the login page
    client.force_login(staff("plain"))
    assert client.get(BROADCAST).status_code == 403
    assert broadcast(client).status_code == 403
    assert Notification.objects.count() == 0
    client.force_login(staff("caster", "notifications.broadcast_notification"))
    assert client.get(BROADCAST).status_code == 200


def test_the_list_links_to_broadcast_only_with_the_permission(client: Client, db: None) -> None:
    client.force_login(staff("viewer", "notifications.view_notification"))
    assert BROADCAST not in client.get(CHANGELIST).content.decode()
    client.force_login(
        staff("caster", "notifications.view_notification", "notifications.broadcast_notification")
    )
    assert BROADCAST in client.get(CHANGELIST).content.decode()


def test_broadcast_to_all_active_users(
    admin_client: Client, superuser: Any, alice: Any, bob: Any, sent: list[Any]
) -> None:
    make_user("gone", is_active=False)
    assert "There are 3 active users." in admin_client.get(BROADCAST).content.decode()
    with committed():
        response = broadcast(admin_client, level="warning", url="/news/")
    assert "Notified 3 users." in response.content.decode()
    assert set(Notification.objects.values_list("recipient__username", flat=True)) == {
        "root",
        "alice",
        "bob",
    }
    assert frames(sent, bob)[0]["notification"]["title"] == "Hello all"
    counts_are_exact()


def test_broadcast_to_one_group(admin_client: Client, alice: Any, bob: Any) -> None:
    team = Group.objects.create(name="team")
    inactive = make_user("gone", is_active=False)
    team.user_set.add(alice, inactive)
    response = broadcast(admin_client, audience="group", group=str(team.pk))
    assert "Notified 1 user." in response.content.decode()
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == ["alice"]


def test_broadcast_uses_the_admin_form_layout(admin_client: Client, db: None) -> None:
    page = broadcast(admin_client, audience="group").content.decode()
    assert page.count('<fieldset class="module aligned ') == 2
    assert re.findall(r'class="fieldset-heading">([^<]+)<', page) == ["Recipients", "Message"]
    rows = form_rows(page)
    assert list(rows) == ["audience", "group", "title", "body", "url", "level", "group_key"]
    assert has_errors_class(rows["group"]) and "Choose the group to notify." in rows["group"]
    assert all("errorlist" not in rows[name] for name in ("audience", "title", "body", "url"))
    assert 'class="errornote"' in page


@pytest.mark.parametrize(
    "fields",
    [
        {"audience": "group"},
        {"audience": "group", "group": "999999"},
        {"audience": "group", "group": "abc"},
        {"title": "x" * 256},
        {"audience": "everyone"},
        {"title": ""},
        {"url": "//evil.example/"},
        {"level": "fatal"},
    ],
)
def test_broadcast_bad_input_is_a_form_error(
    admin_client: Client, alice: Any, fields: dict[str, str]
) -> None:
    response = broadcast(admin_client, **fields)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert Notification.objects.count() == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_broadcast_to_20000_users_in_batches_with_bounded_memory(
    settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each batch of 1000 is committed and delivered before the next: memory does not grow.

    Real commits (transaction=True): inside a test transaction every batch's push would wait for
    the end of the test and hold its rows until then.
    """
    settings.NOTIFICATIONS = {"BATCH_SIZE": 1000}
    root = User.objects.create_superuser("root", "root@example.com", "root")
    User.objects.bulk_create(
        [User(username=f"user{i:05}", password="!") for i in range(20_000)], batch_size=2000
    )
    client = Client()
    client.force_login(root)
    tracemalloc.start()
    try:
        started = time.perf_counter()
        response = broadcast(client, title="Big news")
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "Notified 20001 users." in response.content.decode()
    assert Notification.objects.count() == 20_001
    assert InboxState.objects.filter(unread_count=1, last_seq=1).count() == 20_001
    with capsys.disabled():
        print(f"\nbroadcast to 20,001 users: {elapsed:.1f} s (traced), peak {peak / 2**20:.1f} MiB")
    # One batch of 1000 rows and their frames is ~2 MiB; all 20,000 held at once would be ~16 MiB.
    assert peak < 6 * 2**20


# notify_many(), under Broadcast and "Send a notification"


def test_notify_many_allocates_seq_and_counts_like_notify(
    alice: Any, bob: Any, sent: list[Any]
) -> None:
    notify(alice, "x") + notify(alice, "x")
    carol = make_user("carol")
    post = Group.objects.create(name="post")  # any saved model will do as a target
    with committed():
        n = api.notify_many(
            User.objects.all(),
            "announced",
            actor=bob,
            target=post,
            title="T",
            body="B",
            url="/u/",
            level="warning",
            category="news",
            data={"k": [1]},
            batch_size=2,
        )
    assert n == 3
    new = {x.recipient.username: x for x in Notification.objects.filter(verb="announced")}
    assert {u: x.seq for u, x in new.items()} == {"alice": 3, "bob": 1, "carol": 1}
    expected = (bob, "bob", post, "post", "T", "B", "/u/", "warning", "news", {"k": [1]}, None)
    for x in new.values():
        got = (x.actor, x.actor_display, x.target, x.target_display, x.title, x.body, x.url)
        got += (x.level, x.category, x.data, x.read_at)
        assert got == expected
    assert (api.unread_count(alice), api.unread_count(carol)) == (3, 1)
    counts_are_exact()
    for user in (alice, bob, carol):
        [push] = [f for f in frames(sent, user) if f["type"] == "notification"][-1:]
        assert push["notification"]["id"] == new[user.username].pk
        assert push["notification"]["seq"] == new[user.username].seq
        assert push["notification"]["actor"] == {
            "type": "testapp.user",
            "id": str(bob.pk),
            "display": "bob",
        }


def test_notify_many_without_returning_reads_the_rows_back(
    alice: Any, bob: Any, monkeypatch: pytest.MonkeyPatch, sent: list[Any]
) -> None:
    from django.db import connection

    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    notify(bob, "x")
    with committed():
        assert api.notify_many([alice, bob], "y", title="back") == 2
    pushed = {f["notification"]["id"] for u in (alice, bob) for f in frames(sent, u)}
    assert pushed == set(Notification.objects.filter(verb="y").values_list("pk", flat=True))
    assert Notification.objects.get(recipient=bob, verb="y").seq == 2
    counts_are_exact()


def test_notify_many_commits_batch_by_batch(db: None, django_assert_num_queries: Any) -> None:
    users = [make_user(f"u{i}") for i in range(5)]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert (
            api.notify_many(User.objects.filter(pk__in=[u.pk for u in users]), "x", batch_size=2)
            == 5
        )
    inserts = [q for q in queries if 'INSERT INTO "notifications_notification"' in q["sql"]]
    assert len(inserts) == 3
    assert sum(q["sql"].startswith("SAVEPOINT") for q in queries) == 3  # one atomic block per batch


def test_notify_many_notifies_each_user_once_and_groups_active_members(
    alice: Any, bob: Any
) -> None:
    team = Group.objects.create(name="team")
    other = Group.objects.create(name="other")
    alice.groups.add(team, other)
    bob.groups.add(team)
    make_user("gone", is_active=False).groups.add(team)
    # A QuerySet is taken as it is (inactive users included), each user once despite the join.
    assert api.notify_many(User.objects.filter(groups__in=[team, other]), "x") == 3
    assert Notification.objects.filter(recipient=alice).count() == 1
    assert api.notify_many(team, "y") == 2  # a Group: its active members
    assert not Notification.objects.filter(recipient__username="gone", verb="y").exists()


def test_notify_many_validates_before_any_query(alice: Any, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        with pytest.raises(api.InvalidNotification):
            api.notify_many(User.objects.all(), "x", url="javascript:alert(1)")
        with pytest.raises(api.InvalidRecipients):
            api.notify_many(Group.objects.all(), "x")
        with pytest.raises(TypeError):
            api.notify_many(User.objects.all(), "x", colour="red")
