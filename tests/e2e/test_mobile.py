"""The demo and the widget on a phone (375 x 667): nothing scrolls sideways, the bell, its open dropdown
and the toasts stay on screen, the header collapses cleanly; and the dark colour scheme."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from notifications import notify
from tests.conftest import make_user

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

WIDTH, HEIGHT = 375, 667
PHONE = {
    "viewport": {"width": WIDTH, "height": HEIGHT},
    # A mobile viewport widens itself to fit content that is too wide: innerWidth shows it.
    "is_mobile": True,
    "has_touch": True,
}
OPEN = "window.notifications && window.notifications.state === 'open'"
LONG_WORD = "Supercalifragilisticexpialidocious" * 4


@pytest.fixture
def alice(transactional_db: None) -> Any:
    return make_user("alice", is_staff=True)


def open_page(context: Any, path: str) -> Any:
    page = context.new_page()
    failed: list[str] = []
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    page.failed = failed
    page.goto(path)
    return page


def assert_no_sideways_scroll(page: Any) -> None:
    widths = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"
    )
    assert widths == {"scroll": WIDTH, "inner": WIDTH}, (page.url, widths)


def box_inside_viewport(page: Any, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not rendered"
    assert box["x"] >= 0 and box["y"] >= 0, (selector, box)
    assert box["x"] + box["width"] <= WIDTH and box["y"] + box["height"] <= HEIGHT, (selector, box)
    return dict(box)


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def test_demo_pages_fit_a_phone_and_the_header_collapses(
    login: Any, browser: Any, server: Any, alice: Any
) -> None:
    notify(alice, "x", title=LONG_WORD, body=LONG_WORD, url="/")
    context = login(alice, **PHONE)
    for path in ["/", "/send/", "/notifications/", "/demo/posts/"]:
        page = open_page(context, path)
        page.wait_for_function(OPEN, timeout=30_000)
        assert_no_sideways_scroll(page)
        # Brand, navigation, bell and "Log out" are all on screen, and none covers another.
        parts = {
            name: box_inside_viewport(page, selector)
            for name, selector in {
                "brand": ".site-header .brand",
                "nav": ".site-nav",
                "bell": "[data-notifications-toggle]",
                "logout": ".site-user form.inline button",
            }.items()
        }
        for (a, box_a), (b, box_b) in itertools.combinations(parts.items(), 2):
            assert not overlap(box_a, box_b), (path, a, box_a, b, box_b)
        last_link = page.locator(".site-nav a").last.bounding_box()
        assert last_link and last_link["x"] + last_link["width"] <= WIDTH, last_link
        assert page.failed == [], page.failed  # no favicon (or any other) 404
        page.close()

    signed_out = browser.new_context(base_url=server.url, **PHONE)
    page = open_page(signed_out, "/accounts/login/")
    assert_no_sideways_scroll(page)
    box_inside_viewport(page, "form button[type=submit]")
    assert page.failed == [], page.failed
    signed_out.close()


def test_bell_dropdown_and_toast_stay_on_a_phone_screen(login: Any, alice: Any) -> None:
    notify(alice, "x", title="Earlier")
    page = open_page(login(alice, **PHONE), "/")
    page.wait_for_function(OPEN, timeout=30_000)
    box_inside_viewport(page, "[data-notifications-toggle]")

    notify(alice, "x", title=LONG_WORD, body=LONG_WORD)
    page.locator(".notifications-toast").wait_for()
    box_inside_viewport(page, ".notifications-toast")
    assert_no_sideways_scroll(page)

    page.click("[data-notifications-toggle]")
    page.locator("[data-notifications-dropdown]").wait_for()
    dropdown = box_inside_viewport(page, "[data-notifications-dropdown]")
    assert dropdown["width"] >= WIDTH - 32, dropdown  # a sheet, not a sliver
    box_inside_viewport(page, "[data-notifications-items] > li")
    box_inside_viewport(page, ".notifications-dropdown__all")
    assert_no_sideways_scroll(page)


# The colours a reader sees: the text's colour over the first opaque background behind it.
CONTRAST = """(selector) => {
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  const element = document.querySelector(selector);
  if (!element) return null;
  let node = element, background = null;
  while (node && node.nodeType === 1) {
    const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length < 4 || c[3] === 1) { background = c.slice(0, 3); break; }
    node = node.parentElement;
  }
  background = background || [255, 255, 255];
  const foreground = rgb(getComputedStyle(element).color).slice(0, 3);
  const luminance = ([r, g, b]) => [r, g, b].map((v) => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const [l1, l2] = [luminance(foreground), luminance(background)].sort((a, b) => b - a);
  return {foreground, background, ratio: (l1 + 0.05) / (l2 + 0.05)};
}"""

TEXTS = {
    "page": "main h1",
    "muted": ".muted",
    "nav": ".site-nav a:not([aria-current])",
    "badge": "[data-notifications-badge]",
    "dropdown title": ".notifications-dropdown__title",
    "unread title": ".notifications-item.is-unread .notifications-item__title",
    "unread body": ".notifications-item.is-unread .notifications-item__body",
    "time": ".notifications-item__time",
    "see all": ".notifications-dropdown__all",
    "mark all": ".notifications-dropdown__mark-all",
    "toast title": ".notifications-toast__title",
    "toast body": ".notifications-toast__body",
}


def colours(context: Any, alice: Any) -> dict[str, Any]:
    page = open_page(context, "/")
    page.wait_for_function(OPEN, timeout=30_000)
    notify(alice, "x", title="Contrast", body="Body text")
    page.locator(".notifications-toast").wait_for()
    page.click("[data-notifications-toggle]")
    page.locator("[data-notifications-dropdown]").wait_for()
    found = {name: page.evaluate(CONTRAST, selector) for name, selector in TEXTS.items()}
    page.close()
    return found


def test_dark_mode_changes_the_colours_and_keeps_them_readable(login: Any, alice: Any) -> None:
    notify(alice, "x", title="Unread", body="Unread body")
    light = colours(login(alice, color_scheme="light", **PHONE), alice)
    dark = colours(login(alice, color_scheme="dark", **PHONE), alice)
    for name in TEXTS:
        assert light[name] and dark[name], f"{name} ({TEXTS[name]}) is not rendered"
        # WCAG AA for normal text: 4.5:1.
        assert light[name]["ratio"] >= 4.5, (name, light[name])
        assert dark[name]["ratio"] >= 4.5, (name, dark[name])
        assert light[name]["background"] != dark[name]["background"], (name, light[name])
    assert sum(dark[name]["background"][0] for name in TEXTS) < sum(
        light[name]["background"][0] for name in TEXTS
    )
