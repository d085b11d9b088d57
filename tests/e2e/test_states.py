"""Seen, archive, snooze and waking in real Chromium against daphne."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from notifications import api, notify
from notifications.models import Notification
from tests import servers
from tests.e2e.test_browser import SET_CONFIG, badge, open_page, wait_badge, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


def test_opening_the_dropdown_marks_what_it_shows_seen(login: Any, alice: Any) -> None:
    first, second = notify(alice, "x", title="first")[0], notify(alice, "x", title="second")[0]
    api.mark_seen(alice, [first.pk])
    context = login(alice)
    context.add_init_script(SET_CONFIG % json.dumps({"badge": "unseen"}))
    tab_a = open_page(context, "/")
    tab_b = open_page(context, "/")
    wait_badge(tab_a, "1")  # unseen, not the 2 unread
    assert "1 new" in (tab_a.get_attribute("[data-notifications-toggle]", "aria-label") or "")
    tab_a.click("[data-notifications-toggle]")
    wait_badge(tab_a, "")
    wait_badge(tab_b, "")  # every tab hears the `seen` frame
    wait_until(lambda: Notification.objects.get(pk=second.pk).seen_at is not None)
    assert api.unread_count(alice) == 2, "seeing is not reading"
    # A new one counts as unseen again.
    notify(alice, "x", title="third")
    wait_badge(tab_b, "1")
    assert tab_a.errors == [] and tab_b.errors == []


def test_archive_and_snooze_on_the_list_page_then_wake(
    login: Any, alice: Any, redis_url: str
) -> None:
    older, newer = notify(alice, "x", title="older")[0], notify(alice, "x", title="newer")[0]
    context = login(alice, timezone_id="Asia/Tokyo")  # not the server's time zone
    tab_list = open_page(context, "/notifications/")
    tab_bell = open_page(context, "/")
    wait_badge(tab_bell, "2")

    row = tab_list.locator(f'.notifications-page [data-notification-id="{newer.pk}"]')
    row.locator('button:has-text("Archive")').click()
    row.wait_for(state="detached")
    wait_badge(tab_bell, "1")
    wait_until(lambda: Notification.objects.get(pk=newer.pk).archived_at is not None)
    assert tab_list.url.endswith("/notifications/"), "handled in place, no form post"

    # The archive view lists it; "Move to inbox" brings it back into the other tab's dropdown.
    tab_archive = open_page(context, "/notifications/?view=archived")
    archived = tab_archive.locator(f'.notifications-page [data-notification-id="{newer.pk}"]')
    archived.locator('button:has-text("Move to inbox")').click()
    archived.wait_for(state="detached")
    wait_badge(tab_bell, "2")
    tab_list.locator(f'.notifications-page [data-notification-id="{newer.pk}"]').wait_for()

    # Snooze the older one until tomorrow, 9:00 in the browser's time zone.
    row = tab_list.locator(f'.notifications-page [data-notification-id="{older.pk}"]')
    row.locator('button:has-text("Tomorrow")').click()
    row.wait_for(state="detached")
    wait_badge(tab_bell, "1")
    wait_until(lambda: Notification.objects.get(pk=older.pk).snoozed_until is not None)
    until = Notification.objects.get(pk=older.pk).snoozed_until
    assert until is not None and until > timezone.now()
    assert until.astimezone(ZoneInfo("Asia/Tokyo")).hour == 9

    # Its time comes: cron's wake_snoozed, in a process of its own, brings it back live at the top.
    api.mark_read(alice, [newer.pk])
    wait_badge(tab_bell, "")
    Notification.objects.filter(pk=older.pk).update(snoozed_until=timezone.now())
    servers.manage(redis_url, "wake_snoozed")
    wait_badge(tab_bell, "1")
    first_row = tab_list.locator(".notifications-page [data-notification-id]").first
    first_row.wait_for()
    wait_until(lambda: first_row.get_attribute("data-notification-id") == str(older.pk), tab_list)
    assert "is-unread" in (first_row.get_attribute("class") or "")
    assert badge(tab_bell) == "1"
    assert tab_list.errors == [] and tab_bell.errors == [] and tab_archive.errors == []


def test_the_list_page_marks_what_it_shows_seen_in_place(login: Any, alice: Any) -> None:
    ids = [notify(alice, "x", title=title)[0].pk for title in ("one", "two")]
    context = login(alice)
    context.add_init_script(SET_CONFIG % json.dumps({"badge": "unseen"}))
    tab_list = open_page(context, "/notifications/")
    tab_bell = open_page(context, "/")
    wait_badge(tab_bell, "2")
    tab_list.evaluate("window.notReloaded = true")
    tab_list.click('button:has-text("Mark 2 new as seen")')
    wait_badge(tab_bell, "")  # the other tab hears the `seen` frame
    tab_list.locator('[data-notifications-action="mark-seen"]').wait_for(state="hidden")
    assert tab_list.evaluate("window.notReloaded === true"), "handled in place, no form post"
    wait_until(lambda: all(n.seen_at for n in Notification.objects.filter(pk__in=ids)))
    assert api.unread_count(alice) == 2, "seeing is not reading"
    assert tab_list.errors == [] and tab_bell.errors == []
