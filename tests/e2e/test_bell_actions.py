"""The bell's items' Archive and Snooze buttons in real Chromium: the item leaves the dropdown of every
tab of the user with the badge counted again, from the mouse and from the keyboard alone, and focus goes
to the next item (the dropdown once none is left), never to <body>."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from notifications import notify
from notifications.models import Notification
from tests.e2e.test_browser import badge, open_page, wait_badge, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

# What has focus: the item's title and the control ("link", or a button's text without aria-hidden parts:
# what a screen reader names it).
FOCUSED = """() => {
    const el = document.activeElement;
    if (el.hasAttribute("data-notifications-dropdown")) return "dropdown";
    const item = el.closest("[data-notifications-items] > li");
    if (!item) return el.outerHTML.slice(0, 80);
    const title = item.querySelector(".notifications-item__title").textContent;
    if (el.matches("[data-notifications-link]")) return `${title}: link`;
    const named = el.cloneNode(true);
    for (const hidden of named.querySelectorAll("[aria-hidden=true]")) hidden.remove();
    return `${title}: ${named.textContent.replace(/\\s+/g, " ").trim()}`;
}"""


def item(page: Any, pk: int) -> Any:
    return page.locator(f'[data-notifications-items] [data-notification-id="{pk}"]')


def focused(page: Any) -> str:
    return str(page.evaluate(FOCUSED))


def wait_focused(page: Any, expected: str) -> None:
    try:
        page.wait_for_function(f"({FOCUSED})() === {expected!r}", timeout=10_000)
    except Exception:
        raise AssertionError(f"focus on {focused(page)!r}, not {expected!r}") from None


def test_archive_and_snooze_from_the_bell_leave_every_tab(login: Any, alice: Any) -> None:
    older, newer = notify(alice, "x", title="older")[0], notify(alice, "x", title="newer")[0]
    context = login(alice)
    tab_a = open_page(context, "/")
    tab_b = open_page(context, "/")
    assert badge(tab_a) == badge(tab_b) == "2"
    tab_b.click("[data-notifications-toggle]")  # the other tab shows its dropdown too

    tab_a.click("[data-notifications-toggle]")
    tab_a.get_by_role("button", name="Archive “newer”", exact=True).click()
    for tab in (tab_a, tab_b):
        item(tab, newer.pk).wait_for(state="detached")
        wait_badge(tab, "1")
    wait_until(lambda: Notification.objects.get(pk=newer.pk).archived_at is not None)
    assert item(tab_b, older.pk).is_visible()

    # The presets are behind the item's Snooze disclosure.
    tab_a.click(f'[data-notification-id="{older.pk}"] .notifications-item__snooze > summary')
    tab_a.get_by_role("button", name="Snooze “older”: Tomorrow", exact=True).click()
    for tab in (tab_a, tab_b):
        item(tab, older.pk).wait_for(state="detached")
        wait_badge(tab, "")
        assert tab.locator("[data-notifications-empty]").is_visible()
    wait_until(lambda: Notification.objects.get(pk=older.pk).snoozed_until is not None)
    until = Notification.objects.get(pk=older.pk).snoozed_until
    assert until is not None and until > timezone.now()
    assert Notification.objects.get(pk=older.pk).archived_at is None
    assert tab_a.url.endswith("/") and tab_a.errors == [] and tab_b.errors == []


def test_keyboard_alone_archives_and_snoozes_and_focus_moves_on(login: Any, alice: Any) -> None:
    for title in ("Third", "Second", "First"):
        notify(alice, "x", title=title)
    context = login(alice)
    page = open_page(context, "/")
    other = open_page(context, "/")
    page.locator("[data-notifications-toggle]").focus()
    page.keyboard.press("Enter")
    wait_focused(page, "First: link")
    page.keyboard.press("Tab")
    wait_focused(page, "First: Mark “First” as read")
    page.keyboard.press("Tab")
    wait_focused(page, "First: Archive “First”")
    page.keyboard.press("Enter")
    wait_focused(page, "Second: link")  # the next item, where the archived one was
    wait_badge(other, "2")

    for _ in range(3):  # Mark read, Archive, Snooze
        page.keyboard.press("Tab")
    wait_focused(page, "Second: Snooze “Second”")
    page.keyboard.press("Enter")  # opens the presets
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # 1 hour, Tomorrow
    wait_focused(page, "Second: Snooze “Second”: Tomorrow")
    # Another frame draws the list again meanwhile: the presets stay open, focus on the same button.
    notify(alice, "x", title="Fourth")
    page.locator("[data-notifications-items] > li").nth(2).wait_for()
    wait_focused(page, "Second: Snooze “Second”: Tomorrow")
    page.keyboard.press("Space")
    wait_focused(page, "Third: link")  # the next one, again
    wait_badge(other, "2")  # Third and Fourth

    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # archives Third, the last item: the one before it takes focus
    wait_focused(page, "Fourth: link")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # archives Fourth: nothing left, the dropdown has focus
    wait_focused(page, "dropdown")
    wait_badge(page, "")
    wait_badge(other, "")
    assert other.locator("[data-notifications-items] > li").count() == 0
    assert Notification.objects.filter(recipient=alice, archived_at__isnull=False).count() == 3
    assert Notification.objects.filter(recipient=alice, snoozed_until__isnull=False).count() == 1
    assert page.errors == [] and other.errors == []
