"""The bell from the keyboard: opening it focuses the newest notification (never "Mark all read"),
Up/Down/Home/End move through the items, Escape closes it and gives focus back to the bell."""

from __future__ import annotations

from typing import Any

import pytest

from notifications import notify

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

OPEN = "window.notifications && window.notifications.state === 'open'"
# What has focus: the notification's title when it is an item, else the element's own marker.
FOCUSED = """() => {
    const el = document.activeElement;
    const item = el.closest("[data-notifications-items] > li");
    if (item) return item.querySelector(".notifications-item__title").textContent;
    if (el.hasAttribute("data-notifications-toggle")) return "bell";
    if (el.hasAttribute("data-notifications-dropdown")) return "dropdown";
    if (el.hasAttribute("data-notifications-mark-all")) return "mark all read";
    return el.outerHTML;
}"""


def bell_page(login: Any, user: Any) -> Any:
    page = login(user).new_page()
    page.goto("/")
    page.wait_for_function(OPEN, timeout=30_000)
    page.locator("[data-notifications-toggle]").focus()
    return page


def focused(page: Any) -> str:
    return str(page.evaluate(FOCUSED))


def test_opening_focuses_the_newest_item_not_mark_all_read(login: Any, alice: Any) -> None:
    notify(alice, "x", title="Older", url="/")
    notify(alice, "x", title="Newest")  # no url: its link has no href, so no focus of its own
    page = bell_page(login, alice)
    page.keyboard.press("Enter")
    assert page.locator("[data-notifications-toggle]").get_attribute("aria-expanded") == "true"
    assert focused(page) == "Newest"
    assert page.locator("[data-notifications-mark-all]").is_enabled()


def test_opening_an_empty_dropdown_focuses_the_dropdown(login: Any, alice: Any) -> None:
    page = bell_page(login, alice)
    page.keyboard.press("Enter")
    assert focused(page) == "dropdown"
    assert page.locator("#notifications-dropdown").get_attribute("aria-label") == "Notifications"


def test_arrow_keys_home_and_end_move_through_the_items(login: Any, alice: Any) -> None:
    for title in ["Third", "Second", "First"]:
        notify(alice, "x", title=title, url="/notifications/" if title == "Second" else "")
    page = bell_page(login, alice)
    page.keyboard.press("ArrowDown")  # on the bell: opens it
    moves = []
    for key in ["ArrowDown", "ArrowDown", "ArrowDown", "ArrowUp", "Home", "ArrowUp", "End"]:
        page.keyboard.press(key)
        moves.append(focused(page))
    assert moves == ["Second", "Third", "Third", "Second", "First", "First", "Third"]
    # From a button of the dropdown, Down goes to the first item and Up to the last.
    page.locator("[data-notifications-mark-all]").focus()
    page.keyboard.press("ArrowDown")
    assert focused(page) == "First"
    page.locator("[data-notifications-mark-all]").focus()
    page.keyboard.press("ArrowUp")
    assert focused(page) == "Third"
    # From an item's own "Mark read" button, Down goes to the next item.
    page.get_by_role("button", name="Mark “First” as read", exact=True).focus()
    page.keyboard.press("ArrowDown")
    assert focused(page) == "Second"


def test_escape_closes_and_returns_focus_to_the_bell(login: Any, alice: Any) -> None:
    notify(alice, "x", title="One")
    notify(alice, "x", title="Two")
    page = bell_page(login, alice)
    page.keyboard.press("Enter")
    page.keyboard.press("End")
    assert focused(page) == "One"
    page.keyboard.press("Escape")
    assert page.locator("#notifications-dropdown").is_hidden()
    assert page.locator("[data-notifications-toggle]").get_attribute("aria-expanded") == "false"
    assert focused(page) == "bell"
    # Enter opens it again on the newest, as the first time.
    page.keyboard.press("Enter")
    assert focused(page) == "Two"
