"""The HTML list page /notifications/ and its no-JavaScript form posts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from notifications import api, notify
from notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_alice(alice: Any) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    return client


def csrf(client: Client) -> str:
    response = client.get(reverse("notifications:list"))
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())
    assert match is not None
    return match.group(1)


def titles(response: Any) -> list[str]:
    # The rows, not the <template> the client clones for new ones.
    html = re.sub(r"<template.*?</template>", "", response.content.decode(), flags=re.S)
    return re.findall(r'class="notifications-entry__title"[^>]*>([^<]*)<', html)


def test_login_required_redirects_to_login(client: Client) -> None:
    response = client.get(reverse("notifications:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    response = client.post(reverse("notifications:page-mark-all-read"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_lists_only_own_notifications_newest_first(
    client_alice: Client, alice: Any, bob: Any
) -> None:
    notify(alice, "x", title="first")
    notify(bob, "x", title="bob's")
    notify(alice, "x", title="second")
    response = client_alice.get(reverse("notifications:list"))
    assert response.status_code == 200
    assert titles(response) == ["second", "first"]
    assert 'data-first-page="true"' in response.content.decode()


def test_paginates_by_seq_cursor(client_alice: Client, alice: Any, settings: Any) -> None:
    settings.NOTIFICATIONS = {"PAGE_SIZE": 2}
    for i in range(5):
        notify(alice, "x", title=f"n{i}")
    first = client_alice.get(reverse("notifications:list"))
    assert titles(first) == ["n4", "n3"]
    match = re.search(
        r'href="\?view=inbox&amp;filter=all&amp;before=(\d+)" rel="next"', first.content.decode()
    )
    assert match is not None and match.group(1) == "4"
    second = client_alice.get(reverse("notifications:list"), {"before": 4})
    assert titles(second) == ["n2", "n1"]
    assert 'data-first-page="false"' in second.content.decode()
    last = client_alice.get(reverse("notifications:list"), {"before": 2})
    assert titles(last) == ["n0"]
    assert 'rel="next"' not in last.content.decode()


def test_filters_unread(client_alice: Client, alice: Any) -> None:
    read, unread = notify(alice, "x", title="read")[0], notify(alice, "x", title="unread")[0]
    api.mark_read(alice, [read.pk])
    response = client_alice.get(reverse("notifications:list"), {"filter": "unread"})
    assert titles(response) == ["unread"]
    assert unread.pk
    assert 'aria-current="page">Unread' in response.content.decode()


def test_bad_cursor_shows_first_page(client_alice: Client, alice: Any) -> None:
    notify(alice, "x", title="one")
    assert titles(client_alice.get(reverse("notifications:list"), {"before": "nope"})) == ["one"]


def test_text_is_escaped_and_unsafe_urls_are_not_links(client_alice: Client, alice: Any) -> None:
    notify(alice, "x", title="<img src=x onerror=alert(1)>", body="<b>bold</b>", url="/ok/")
    html = client_alice.get(reverse("notifications:list")).content.decode()
    assert "<img src=x" not in html and "<b>bold" not in html
    assert 'href="/ok/"' in html


def test_each_rows_buttons_are_named_with_its_title(client_alice: Client, alice: Any) -> None:
    # A list of "Archive" buttons tells a screen reader nothing about which notification each is for.
    notify(alice, "x", title="Old")
    api.archive(alice, [Notification.objects.get(title="Old").pk])
    notify(alice, "x", title="Ann & <b>")
    title = '“<span data-notifications-field="title">{}</span>”'
    names = {
        "mark-read": f"Mark {title} as read",
        "archive": f"Archive {title}",
        "delete": f"Delete {title}",
        "unarchive": f"Move {title} to the inbox",
    }
    inbox = client_alice.get("/notifications/").content.decode()
    archived = client_alice.get("/notifications/?view=archived").content.decode()
    for page, escaped, buttons in (
        (inbox, "Ann &amp; &lt;b&gt;", ["mark-read", "archive", "delete"]),
        (archived, "Old", ["mark-read", "unarchive", "delete"]),
    ):
        for button in buttons:
            html = re.search(
                rf'<button [^>]*notifications-entry__button--{button}">(.*?)</button>', page
            )
            assert html is not None, button
            hidden = '<span class="notifications-visually-hidden">{}</span>'
            assert hidden.format(names[button].format(escaped)) in html.group(1)


def test_mark_read_form_redirects_back(client_alice: Client, alice: Any) -> None:
    n = notify(alice, "x", title="a")[0]
    notify(alice, "x", title="b")
    token = csrf(client_alice)
    response = client_alice.post(
        reverse("notifications:page-mark-read"),
        {"ids": n.pk, "next": "/notifications/?filter=unread", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert response["Location"] == "/notifications/?filter=unread"
    assert api.unread_count(alice) == 1
    n.refresh_from_db()
    assert n.is_read


def test_mark_all_read_and_delete(client_alice: Client, alice: Any) -> None:
    a, b = notify(alice, "x", title="a")[0], notify(alice, "x", title="b")[0]
    token = csrf(client_alice)
    client_alice.post(reverse("notifications:page-mark-all-read"), {"csrfmiddlewaretoken": token})
    assert api.unread_count(alice) == 0
    client_alice.post(
        reverse("notifications:page-delete"), {"ids": a.pk, "csrfmiddlewaretoken": token}
    )
    assert list(Notification.objects.for_user(alice).values_list("pk", flat=True)) == [b.pk]


def test_forms_need_csrf(client_alice: Client, alice: Any) -> None:
    notify(alice, "x", title="a")
    response = client_alice.post(reverse("notifications:page-mark-all-read"))
    assert response.status_code == 403
    assert api.unread_count(alice) == 1


def test_cannot_touch_someone_elses_notification(client_alice: Client, bob: Any) -> None:
    theirs = notify(bob, "x", title="bob's")[0]
    token = csrf(client_alice)
    response = client_alice.post(
        reverse("notifications:page-delete"), {"ids": theirs.pk, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    assert Notification.objects.filter(pk=theirs.pk).exists()
    assert api.unread_count(bob) == 1


def test_next_must_stay_on_this_site(client_alice: Client, alice: Any) -> None:
    notify(alice, "x", title="a")
    token = csrf(client_alice)
    response = client_alice.post(
        reverse("notifications:page-mark-all-read"),
        {"next": "https://evil.example/", "csrfmiddlewaretoken": token},
    )
    assert response["Location"] == reverse("notifications:list")


def test_get_only_for_the_page_and_post_only_for_forms(client_alice: Client) -> None:
    assert client_alice.post(reverse("notifications:list")).status_code in {403, 405}
    assert client_alice.get(reverse("notifications:page-mark-read")).status_code == 405


def test_standalone_layout_without_a_project_base(
    client_alice: Client, alice: Any, settings: Any
) -> None:
    """With no project template overriding notifications/base.html, the app's own layout is used."""
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": []}]
    notify(alice, "x", title="standalone")
    html = client_alice.get(reverse("notifications:list")).content.decode()
    assert 'class="notifications-standalone"' in html
    assert '<a class="notifications-standalone__home" href="/">Back to the site</a>' in html
    assert '<script type="module" src="/static/notifications/js/notifications.js">' in html
    assert "data-notifications-bell" in html
    assert "standalone" in html
    assert " style=" not in html, "no inline styles: works under a strict CSP"


def test_head_is_allowed_on_the_page(client_alice: Client) -> None:
    assert client_alice.head(reverse("notifications:list")).status_code == 200
