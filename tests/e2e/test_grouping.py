"""Grouped notifications in Chromium: the collapsed one replaces its entry, on top, with its actors."""

from __future__ import annotations

from typing import Any

import pytest

from notifications import notify
from tests.conftest import make_user
from tests.e2e.test_browser import open_page, wait_badge, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

KEY = "post:42:comments"
ENTRIES = "[data-notifications-page-items] > li"
ITEMS = "[data-notifications-items] > li"


def rows(page: Any, selector: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = page.evaluate(
        """(selector) => Array.from(document.querySelectorAll(selector), (li) => ({
             id: Number(li.dataset.notificationId),
             seq: Number(li.dataset.seq),
             title: li.querySelector('[data-notifications-field="title"]').textContent,
             actors: li.querySelector('[data-notifications-field="actors"]')?.textContent ?? null,
           }))""",
        selector,
    )
    return result


def test_the_client_replaces_the_entry_and_renders_the_actors(
    login: Any, transactional_db: None
) -> None:
    alice, ann, bob, cid = (make_user(name) for name in ("alice", "ann", "bob", "cid"))
    page = open_page(login(alice), "/notifications/")
    [first] = notify(alice, "commented", actor=ann, title="ann commented", group_key=KEY)
    wait_badge(page, "1")
    [other] = notify(alice, "liked", title="other")
    wait_badge(page, "2")
    notify(alice, "commented", actor=bob, title="bob commented", group_key=KEY)
    wait_until(lambda: rows(page, ENTRIES)[0]["seq"] == 3, page)
    assert rows(page, ENTRIES) == [
        {"id": first.pk, "seq": 3, "title": "bob commented", "actors": "bob and ann"},
        {"id": other.pk, "seq": 2, "title": "other", "actors": None},
    ]
    notify(alice, "commented", actor=cid, title="cid commented", group_key=KEY)
    wait_until(lambda: rows(page, ENTRIES)[0]["seq"] == 4, page)
    assert rows(page, ENTRIES)[0]["actors"] == "cid, bob and 1 other"
    assert len(rows(page, ENTRIES)) == 2
    page.click("[data-notifications-toggle]")
    assert [(r["id"], r["actors"]) for r in rows(page, ITEMS)] == [
        (first.pk, "cid, bob and 1 other"),
        (other.pk, None),
    ]
    # One per group, not per event: three events of the group counted once.
    wait_badge(page, "2")
    toasts = page.locator(".notifications-toast__actors")
    assert "cid, bob and 1 other" in toasts.all_text_contents()
    assert page.errors == []


def test_a_reconnect_replays_the_group_once_and_settles_its_old_seq_at_once(
    login: Any, transactional_db: None, server: Any
) -> None:
    from tests.e2e.test_browser import OPEN

    alice, ann, bob = (make_user(name) for name in ("alice", "ann", "bob"))
    page = open_page(login(alice))
    server.stop()
    page.wait_for_function("window.notifications.state !== 'open'", timeout=10_000)
    [group] = notify(alice, "commented", actor=ann, group_key=KEY)  # seq 1 ...
    notify(alice, "liked", title="other")  # seq 2
    notify(alice, "commented", actor=bob, title="newest", group_key=KEY)  # ... moved to seq 3
    server.start()
    page.wait_for_function(OPEN, timeout=45_000)
    wait_badge(page, "2")
    # The replay skipped seq 1 for good: the client knows it at once (no sync, no 5 s settle timer).
    page.wait_for_function(
        "window.notifications.client.tracker.since === 3 && !window.notifications.client.tracker.hasGap",
        timeout=2_000,
    )
    items = rows(page, ITEMS)
    assert [(r["id"], r["title"], r["actors"]) for r in items] == [
        (group.pk, "newest", "bob and ann"),
        (group.pk + 1, "other", None),
    ]
    assert page.locator(f'.notifications-toast[data-notification-id="{group.pk}"]').count() == 1


def test_the_client_names_the_actors_in_french(login: Any, transactional_db: None) -> None:
    alice = make_user("alice")
    actors = [make_user(name) for name in ("ann", "bob", "cid")]
    page = open_page(login(alice, locale="fr-FR"), "/notifications/")
    for actor in actors:
        notify(alice, "commented", actor=actor, group_key=KEY)
    wait_until(lambda: bool(rows(page, ENTRIES)) and rows(page, ENTRIES)[0]["seq"] == 3, page)
    assert rows(page, ENTRIES)[0]["actors"] == "cid, bob et 1 autre"
    # The page rendered by the server says the same.
    page.reload()
    page.locator(ENTRIES).first.wait_for()
    assert rows(page, ENTRIES)[0]["actors"] == "cid, bob et 1 autre"
