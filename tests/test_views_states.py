"""Seen, archive, unarchive and snooze over HTTP: the JSON API and the list page without JavaScript."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from notifications import api, states
from notifications.models import Notification
from tests.conftest import counts_are_exact
from tests.test_views_json_api import assert_error, make, post_json
from tests.test_views_pages import csrf, titles

pytestmark = pytest.mark.django_db

LIST = "/notifications/api/"
MARK_SEEN = "/notifications/api/mark-seen/"
ARCHIVE = "/notifications/api/archive/"
UNARCHIVE = "/notifications/api/unarchive/"
SNOOZE = "/notifications/api/snooze/"
CHANGES = [MARK_SEEN, ARCHIVE, UNARCHIVE, SNOOZE]


def body(url: str, ids: list[int]) -> dict[str, Any]:
    return {"ids": ids, "preset": "1h"} if url == SNOOZE else {"ids": ids}


def test_urls_are_named_and_mounted() -> None:
    assert reverse("notifications:api-mark-seen") == MARK_SEEN
    assert reverse("notifications:api-archive") == ARCHIVE
    assert reverse("notifications:api-unarchive") == UNARCHIVE
    assert reverse("notifications:api-snooze") == SNOOZE


# JSON API


def test_mark_seen_answers_with_both_counts(client_a: Client, alice: Any) -> None:
    ids = make(alice, 3)
    response = post_json(client_a, MARK_SEEN, {"ids": ids[:2]})
    assert response.json() == {"ids": ids[:2], "unread_count": 3, "unseen_count": 1, "last_seq": 3}


def test_archive_then_list_the_archive_then_unarchive(client_a: Client, alice: Any) -> None:
    ids = make(alice, 3)
    response = client_a.post(ARCHIVE, {"ids": [str(ids[0])]})  # form fields work too
    assert response.json()["ids"] == [ids[0]] and response.json()["unread_count"] == 2
    assert [n["id"] for n in client_a.get(LIST).json()["results"]] == [ids[2], ids[1]]
    archived = client_a.get(LIST, {"view": "archived"}).json()["results"]
    assert [(n["id"], n["archived"]) for n in archived] == [(ids[0], True)]
    assert post_json(client_a, UNARCHIVE, {"ids": [ids[0]]}).json()["unread_count"] == 3
    assert client_a.get(LIST, {"view": "archived"}).json()["results"] == []


def test_snooze_with_a_preset_and_with_an_explicit_time(client_a: Client, alice: Any) -> None:
    ids = make(alice, 2)
    response = post_json(
        client_a, SNOOZE, {"ids": [ids[0]], "preset": "tomorrow", "tz": "Pacific/Auckland"}
    )
    data = response.json()
    assert data["ids"] == [ids[0]] and data["unread_count"] == 1
    until = Notification.objects.get(pk=ids[0]).snoozed_until
    assert until is not None and data["until"] == until.isoformat().replace("+00:00", "Z")
    assert until.astimezone(states._zone("Pacific/Auckland")).hour == 9
    later = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    response = post_json(client_a, SNOOZE, {"ids": [ids[1]], "until": later.isoformat()})
    assert response.json()["unread_count"] == 0
    assert Notification.objects.get(pk=ids[1]).snoozed_until == later
    snoozed = client_a.get(LIST, {"view": "snoozed"}).json()["results"]
    assert [n["id"] for n in snoozed] == [ids[1], ids[0]]
    assert client_a.get(LIST).json()["results"] == []
    counts_are_exact()


@pytest.mark.parametrize(
    "fields",
    [
        {"preset": "someday"},
        {"preset": "1h", "tz": "Not/AZone"},
        {"until": "2001-01-01T00:00:00Z"},
        {"until": "next tuesday"},
        {},
    ],
)
def test_bad_snooze_is_a_400(client_a: Client, alice: Any, fields: dict[str, Any]) -> None:
    ids = make(alice, 1)
    assert_error(post_json(client_a, SNOOZE, {"ids": ids, **fields}), 400, "invalid")
    assert Notification.objects.get().snoozed_until is None


def test_bad_view_is_a_400(client_a: Client) -> None:
    assert_error(client_a.get(LIST, {"view": "trash"}), 400, "invalid")


@pytest.mark.parametrize("url", CHANGES)
def test_another_users_ids_are_a_404_and_change_nothing(
    client_a: Client, alice: Any, bob: Any, url: str
) -> None:
    mine, theirs = make(alice, 1), make(bob, 1)
    api.archive(bob, theirs)  # so that unarchive would have something to change
    assert_error(post_json(client_a, url, body(url, mine + theirs)), 404, "not_found")
    assert Notification.objects.get(pk=mine[0]).seen_at is None
    assert Notification.objects.get(pk=mine[0]).archived_at is None
    assert Notification.objects.get(pk=theirs[0]).archived_at is not None
    counts_are_exact()


@pytest.mark.parametrize("url", CHANGES)
def test_changes_need_post_and_csrf(alice: Any, url: str) -> None:
    ids = make(alice, 1)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert_error(client.get(url), 405, "method_not_allowed")
    assert_error(post_json(client, url, body(url, ids)), 403, "csrf_failed")
    assert_error(post_json(Client(), url, body(url, ids)), 401, "not_authenticated")


# The list page without JavaScript


@pytest.fixture
def client_alice(alice: Any) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    return client


def page(client: Client, view: str) -> Any:
    return client.get(reverse("notifications:list"), {"view": view})


def test_archive_form_then_the_archived_view_then_back(client_alice: Client, alice: Any) -> None:
    [keep] = make(alice, 1)
    [gone] = make(alice, 1)
    token = csrf(client_alice)
    response = client_alice.post(
        reverse("notifications:page-archive"),
        {"ids": [gone], "csrfmiddlewaretoken": token, "next": "/notifications/"},
        follow=True,
    )
    assert "Archived 1 notification." in response.content.decode()
    assert titles(response) == ["alice 0"]
    archived = page(client_alice, "archived")
    assert titles(archived) == ["alice 0"] and 'aria-current="page">Archived' in (
        archived.content.decode()
    )
    assert Notification.objects.get(pk=gone).archived_at is not None
    html = archived.content.decode()
    assert reverse("notifications:page-unarchive") in html
    response = client_alice.post(
        reverse("notifications:page-unarchive"),
        {"ids": [gone], "csrfmiddlewaretoken": token, "next": "/notifications/?view=archived"},
        follow=True,
    )
    assert "Moved 1 notification back to the inbox." in response.content.decode()
    assert titles(response) == []
    assert len(titles(page(client_alice, "inbox"))) == 2
    assert keep


def test_the_page_posts_what_it_showed_unseen_as_seen(
    client_alice: Client, alice: Any, bob: Any
) -> None:
    ids = make(alice, 3)
    api.mark_seen(alice, [ids[0]])
    html = page(client_alice, "inbox").content.decode()
    action = reverse("notifications:page-mark-seen")
    form = re.search(rf'<form[^>]*action="{action}".*?</form>', html, flags=re.S)
    assert form is not None and "Mark 2 new as seen" in form.group(0)
    assert sorted(int(i) for i in re.findall(r'name="ids" value="(\d+)"', form.group(0))) == ids[1:]
    response = client_alice.post(
        reverse("notifications:page-mark-seen"),
        {"ids": ids[1:], "csrfmiddlewaretoken": csrf(client_alice), "next": "/notifications/"},
        follow=True,
    )
    assert "Marked 2 notifications as seen." in response.content.decode()
    assert api.unseen_count(alice) == 0
    assert reverse("notifications:page-mark-seen") not in response.content.decode()  # nothing new
    [theirs] = make(bob, 1)
    response = client_alice.post(
        reverse("notifications:page-mark-seen"),
        {"ids": [theirs], "csrfmiddlewaretoken": csrf(client_alice)},
        follow=True,
    )
    assert "Nothing changed" in response.content.decode()
    assert api.unseen_count(bob) == 1
    assert (
        client_alice.post(reverse("notifications:page-mark-seen"), {"ids": ids}).status_code == 403
    )


def test_snooze_form_takes_a_preset_button(client_alice: Client, alice: Any) -> None:
    [n] = make(alice, 1)
    response = client_alice.post(
        reverse("notifications:page-snooze"),
        {"ids": [n], "preset": "next_week", "tz": "", "csrfmiddlewaretoken": csrf(client_alice)},
        follow=True,
    )
    assert "Snoozed 1 notification." in response.content.decode()
    until = Notification.objects.get(pk=n).snoozed_until
    assert until is not None and until.astimezone(timezone.get_current_timezone()).weekday() == 0
    assert titles(response) == []
    snoozed = page(client_alice, "snoozed")
    assert titles(snoozed) == ["alice 0"] and "Until " in snoozed.content.decode()


def test_forms_refuse_foreign_ids_and_bad_presets(
    client_alice: Client, alice: Any, bob: Any
) -> None:
    [theirs] = make(bob, 1)
    [mine] = make(alice, 1)
    token = csrf(client_alice)
    for name in ("page-archive", "page-unarchive"):
        response = client_alice.post(
            reverse(f"notifications:{name}"),
            {"ids": [theirs], "csrfmiddlewaretoken": token},
            follow=True,
        )
        assert "Nothing changed" in response.content.decode()
    response = client_alice.post(
        reverse("notifications:page-snooze"),
        {"ids": [mine], "preset": "someday", "csrfmiddlewaretoken": token},
        follow=True,
    )
    assert "Nothing changed" in response.content.decode()
    assert Notification.objects.filter(archived_at=None, snoozed_until=None).count() == 2


def test_forms_need_csrf(client_alice: Client, alice: Any) -> None:
    [n] = make(alice, 1)
    for name in ("page-archive", "page-unarchive", "page-snooze"):
        response = client_alice.post(reverse(f"notifications:{name}"), {"ids": [n], "preset": "1h"})
        assert response.status_code == 403
    assert Notification.objects.get().archived_at is None


def test_hq_endpoints_show_the_inbox_like_their_counts(client_a: Client, alice: Any) -> None:
    ids = make(alice, 3)
    api.archive(alice, ids[:1])
    api.snooze(alice, ids[1:2], timezone.now() + timedelta(hours=1))
    assert client_a.get(reverse("notifications:live_all_notification_count")).json() == {
        "all_count": 1
    }
    unread = client_a.get(reverse("notifications:live_unread_notification_list")).json()
    assert (unread["unread_count"], len(unread["unread_list"])) == (1, 1)


@pytest.mark.parametrize(
    ("tag", "setting", "badge", "label"),
    [
        ("{% notifications_bell %}", None, "3", "Notifications, 3 unread"),
        ('{% notifications_bell badge="unseen" %}', None, "1", "Notifications, 1 new"),
        ("{% notifications_bell %}", "unseen", "1", "Notifications, 1 new"),
        ('{% notifications_bell badge="unread" %}', "unseen", "3", "Notifications, 3 unread"),
    ],
)
def test_the_badge_counts_unread_or_unseen(
    alice: Any, settings: Any, tag: str, setting: str | None, badge: str, label: str
) -> None:
    from tests.test_templatetags import render

    if setting is not None:
        settings.NOTIFICATIONS = {"BADGE": setting}
    ids = make(alice, 3)
    api.mark_seen(alice, ids[:2])
    html = render(tag, user=alice)
    assert re.search(rf"data-notifications-badge>{badge}<", html)
    assert f'aria-label="{label}"' in html
    assert f'data-badge="{"unseen" if label.endswith("new") else "unread"}"' in html


def test_a_bad_badge_setting_is_reported() -> None:
    from django.test import override_settings

    from notifications.conf import problems

    with override_settings(NOTIFICATIONS={"BADGE": "new"}):
        [problem] = problems()
    assert problem.id == "notifications.E004" and "BADGE" in problem.msg
