"""django-notifications-hq's API on our inbox: QuerySet and instance methods, its URL names, views,
JSON endpoints and template tags. Every change keeps the unread counts exact and reaches sockets."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import engines
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from notifications import protocol
from notifications.compat import with_flags
from notifications.compat.mixins import SLUG_OFFSET
from notifications.models import InboxState, Notification
from notifications.signals import notify
from tests.conftest import counts_are_exact
from tests.testapp.models import Article


def _send(user: Any, n: int, actor: Any = None) -> list[Notification]:
    created = []
    for i in range(n):
        [(_, batch)] = notify.send(actor or user, recipient=user, verb=f"did {i}")
        created += batch
    return created


def _unread(user: Any) -> int:
    return InboxState.objects.get(user=user).unread_count


def _kinds(sent: list[Any]) -> list[str]:
    return [json.loads(message["frame"])["type"] for batch in sent for _, message in batch]


def test_mark_all_as_read_and_unread_go_through_the_api(
    alice: Any, bob: Any, sent: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    _send(alice, 3)
    _send(bob, 2)
    with django_capture_on_commit_callbacks(execute=True):
        assert alice.notifications.mark_all_as_read() == 3
    assert (_unread(alice), _unread(bob)) == (0, 2)
    assert _kinds(sent)[-1] == protocol.READ
    with django_capture_on_commit_callbacks(execute=True):
        assert Notification.objects.mark_all_as_unread(recipient=alice) == 3
    assert _kinds(sent)[-1] == protocol.UNREAD
    # Any recipients at once, as hq's qs.mark_all_as_read().
    assert Notification.objects.all().mark_all_as_read() == 5
    assert (_unread(alice), _unread(bob)) == (0, 0)
    assert (alice.notifications.unread().count(), alice.notifications.read().count()) == (0, 3)
    counts_are_exact()


def test_mark_all_as_read_in_more_batches_than_one_api_call_takes(
    alice: Any, settings: Any
) -> None:
    settings.NOTIFICATIONS = {"MAX_IDS": 2}
    _send(alice, 5)
    assert alice.notifications.mark_all_as_read() == 5
    assert _unread(alice) == 0
    counts_are_exact()


def test_instance_api(alice: Any, bob: Any) -> None:
    post = Article.objects.create(title="Notes")
    when = timezone.now() - datetime.timedelta(hours=2)
    [(_, [n])] = notify.send(
        bob, recipient=alice, verb="liked", target=post, description="Nice", timestamp=when
    )
    assert (n.unread, n.description, n.timestamp, n.slug) == (
        True,
        "Nice",
        when,
        n.pk + SLUG_OFFSET,
    )
    assert n.timesince(when + datetime.timedelta(minutes=5)) == "5\xa0minutes"
    assert n.naturaltime() == "2\xa0hours ago"
    assert (n.public, n.deleted, n.emailed) == (True, False, False)
    n.mark_as_read()
    assert (n.unread, _unread(alice)) == (False, 0)
    n.mark_as_read()  # already read: nothing changes
    n.mark_as_unread()
    assert (n.unread, _unread(alice)) == (True, 1)
    counts_are_exact()


def test_flags_active_deleted_sent_unsent(alice: Any) -> None:
    first, second, third = _send(alice, 3)
    Notification.objects.filter(pk=first.pk).update(data=with_flags({"k": 1}, {"deleted": True}))
    assert list(alice.notifications.active().order_by("pk")) == [second, third]
    assert list(alice.notifications.deleted()) == [first]
    assert alice.notifications.unsent().count() == 3
    assert alice.notifications.filter(pk__in=[first.pk, second.pk]).mark_as_sent() == 2
    assert alice.notifications.mark_as_sent() == 1
    assert alice.notifications.sent().count() == 3
    first.refresh_from_db()
    assert first.data == {"k": 1, "hq": {"deleted": True, "emailed": True}}
    assert alice.notifications.mark_as_unsent(recipient=alice) == 3
    first.refresh_from_db()
    assert (first.emailed, first.data) == (False, {"k": 1, "hq": {"deleted": True}})
    assert _unread(alice) == 3  # read state untouched
    # The doc's way to drop what hq had soft-deleted: a real deletion, counts exact.
    assert Notification.objects.deleted().mark_all_as_deleted() == 1
    assert (alice.notifications.count(), _unread(alice)) == (2, 2)
    assert alice.notifications.filter(pk=second.pk).mark_all_as_active() == 0
    counts_are_exact()


def test_hq_url_names_next_to_ours() -> None:
    assert reverse("notifications:all") == reverse("notifications:list")
    assert reverse("notifications:mark_as_read", args=[110910]).endswith("/mark-as-read/110910/")
    assert reverse("notifications:live_unread_notification_list").endswith("/api/unread_list/")
    assert reverse("notifications:api-unread-count").endswith("/api/unread-count/")


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("mark_as_read", lambda n: n.unread is False),
        ("delete", lambda n: not Notification.objects.filter(pk=n.pk).exists()),
    ],
)
def test_a_get_link_asks_a_post_changes(
    alice: Any, name: str, change: Any, sent: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    [n] = _send(alice, 1)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    url = reverse(f"notifications:{name}", args=[n.slug])
    page = client.get(url + "?next=/after/")
    assert page.status_code == 200 and b'method="post"' in page.content
    n.refresh_from_db()
    assert n.unread and _unread(alice) == 1  # a GET (a link, an <img>) changes nothing
    assert client.post(url).status_code == 403  # no CSRF token
    token = page.content.decode().split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"csrfmiddlewaretoken": token, "next": "/after/"})
    assert (done.status_code, done["Location"]) == (302, "/after/")
    if Notification.objects.filter(pk=n.pk).exists():
        n.refresh_from_db()
    assert change(n) and _unread(alice) == 0
    assert _kinds(sent)[-1] in {protocol.READ, protocol.DELETED}


def test_links_of_others_and_unsafe_next(client_a: Any, alice: Any, bob: Any) -> None:
    [theirs] = _send(bob, 1)
    url = reverse("notifications:mark_as_read", args=[theirs.slug])
    assert client_a.get(url).status_code == 404
    assert client_a.post(url).status_code == 404
    assert _unread(bob) == 1
    [mine] = _send(alice, 1)
    url = reverse("notifications:mark_as_unread", args=[mine.slug])
    mine.mark_as_read()
    done = client_a.post(url, {"next": "https://evil.example/"})
    assert done["Location"] == reverse("notifications:unread")
    assert _unread(alice) == 1
    done = client_a.post(reverse("notifications:mark_all_as_read"))
    assert (done["Location"], _unread(alice)) == (reverse("notifications:unread"), 0)
    assert client_a.get(reverse("notifications:unread"))["Location"].endswith("?filter=unread")


def test_json_endpoints_answer_what_notify_js_reads(client_a: Any, alice: Any, bob: Any) -> None:
    post = Article.objects.create(title="Notes")
    notify.send(bob, recipient=alice, verb="first", target=post, level="success", k=1)
    notify.send(bob, recipient=alice, verb="second")
    alice.notifications.filter(verb="first").mark_all_as_read()
    assert client_a.get(reverse("notifications:live_unread_notification_count")).json() == {
        "unread_count": 1
    }
    assert client_a.get(reverse("notifications:live_all_notification_count")).json() == {
        "all_count": 2
    }
    unread = client_a.get(reverse("notifications:live_unread_notification_list")).json()
    assert unread["unread_count"] == 1
    [item] = unread["unread_list"]
    assert (item["verb"], item["actor"], item["unread"], item["slug"]) == (
        "second",
        "bob",
        True,
        Notification.objects.get(verb="second").slug,
    )
    every = client_a.get(reverse("notifications:live_all_notification_list") + "?max=1").json()
    assert every["all_count"] == 2 and len(every["all_list"]) == 1
    first = client_a.get(reverse("notifications:live_all_notification_list")).json()["all_list"][1]
    assert (first["target"], first["data"], first["level"]) == ("Notes", {"k": 1}, "success")
    assert "hq" not in first["data"]


def test_json_list_marks_read_only_on_a_same_origin_fetch(client_a: Any, alice: Any) -> None:
    _send(alice, 2)
    url = reverse("notifications:live_unread_notification_list") + "?mark_as_read=true"
    assert client_a.get(url, headers={"Sec-Fetch-Site": "cross-site"}).json()["unread_count"] == 2
    assert client_a.get(url).json()["unread_count"] == 2
    answer = client_a.get(url, headers={"Sec-Fetch-Site": "same-origin"}).json()
    assert (answer["unread_count"], len(answer["unread_list"]), _unread(alice)) == (0, 2, 0)
    counts_are_exact()


def test_json_endpoints_signed_out_and_bad_max(db: None, alice: Any, client_a: Any) -> None:
    anonymous = Client()
    assert anonymous.get(reverse("notifications:live_unread_notification_list")).json() == {
        "unread_count": 0,
        "unread_list": [],
    }
    assert anonymous.get(reverse("notifications:live_all_notification_count")).json() == {
        "all_count": 0
    }
    _send(alice, 12)
    for bad in ("0", "101", "x", "²", "-1"):
        answer = client_a.get(reverse("notifications:live_all_notification_list") + f"?max={bad}")
        assert len(answer.json()["all_list"]) == 10  # hq's NUM_TO_FETCH
    assert client_a.post(reverse("notifications:live_all_notification_list")).status_code == 405


def _render(source: str, user: Any) -> str:
    request = RequestFactory().get("/")
    request.user = user
    return (
        engines["django"]
        .from_string("{% load notifications_tags %}" + source)
        .render({"request": request, "user": user})
    )


def test_template_tags(alice: Any) -> None:
    _send(alice, 2)
    assert _render("{% notifications_unread %}", alice) == "2"
    assert _render("{% notifications_unread as n %}{% if n %}[{{ n }}]{% endif %}", alice) == "[2]"
    assert _render("{% notifications_unread %}", AnonymousUser()) == ""
    assert _render("{{ user|has_notification }}", alice) == "True"
    badge = _render('{% live_notify_badge badge_class="badge" %}', alice)
    assert badge == '<span class="badge" data-notifications-count>2</span>'
    assert _render("{% live_notify_badge %}", AnonymousUser()) == ""
    assert _render('{% live_notify_list list_class="x" %}', alice) == '<ul class="x"></ul>'


def test_register_notify_callbacks_escapes_its_values(alice: Any) -> None:
    script = _render(
        "{% register_notify_callbacks badge_class='</script><b>' callbacks='fill_notification_badge,"
        "alert(1)' nonce='n1' fetch=3 refresh_period=5 mark_as_read=True %}",
        alice,
    )
    assert script.startswith('<script type="text/javascript" nonce="n1">')
    assert "</script><b>" not in script and '"\\u003c/script\\u003e\\u003cb\\u003e"' in script
    assert "notify_refresh_period=5000;" in script and 'notify_fetch_count="3";' in script
    assert "notify_mark_as_read=true;" in script
    assert "register_notifier(fill_notification_badge);" in script and "alert" not in script
    assert _render("{% register_notify_callbacks api_name='nope' %}", alice) == ""
    count = _render("{% register_notify_callbacks api_name='count' %}", alice)
    assert reverse("notifications:live_unread_notification_count") in count


def test_notify_js_ships_with_hq_globals() -> None:
    from django.contrib.staticfiles import finders

    path = finders.find("notifications/notify.js")
    assert path is not None
    source = Path(path).read_text()
    for name in ("register_notifier", "fill_notification_badge", "fill_notification_list"):
        assert f"function {name}(" in source
    assert "innerHTML" not in source


def test_convert_command_without_hq_data(db: None) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("convert_hq_notifications", "--dry-run", stdout=out)
    assert out.getvalue() == "No django-notifications-hq table: nothing to convert.\n"
    for flag in ("--rollback", "--drop-archive"):
        with pytest.raises(CommandError, match="no notifications_hq_archive table"):
            call_command("convert_hq_notifications", flag)
    with pytest.raises(CommandError, match="one of the arguments"):
        call_command("convert_hq_notifications")
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        call_command("convert_hq_notifications", "--dry-run", "--batch-size=0")
