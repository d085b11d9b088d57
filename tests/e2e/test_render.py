"""render.js in real Chromium: the one renderer fills every notification template the same way."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import make_user
from tests.e2e.test_browser import OPEN

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

RENDER = """async ([name, n]) => {
  const { renderNotification } = await import("/static/notifications/js/render.js");
  const node = renderNotification(name, n);
  const all = (selector, read) => Array.from(node.querySelectorAll(selector), read);
  return {
    className: node.className,
    id: node.dataset.notificationId,
    seq: node.dataset.seq,
    hrefs: all("[data-notifications-link]", (e) => e.getAttribute("href")),
    titles: all('[data-notifications-field="title"]', (e) => e.textContent),
    bodies: all('[data-notifications-field="body"]', (e) => e.textContent),
    times: all('[data-notifications-field="time"]', (e) => e.getAttribute("datetime")),
    unreadOnlyHidden: all("[data-notifications-unread-only]", (e) => e.hidden),
    ids: all('input[name="ids"]', (e) => e.value),
    elements: all("*", (e) => e.tagName.toLowerCase()),
  };
}"""

BLOCKS = {
    "item": "notifications-item",
    "entry": "notifications-entry",
    "toast": "notifications-toast",
}


@pytest.fixture
def page(login: Any, transactional_db: None) -> Any:
    """The list page: it has the templates of {% notifications_script %} and its own "entry"."""
    page = login(make_user("alice")).new_page()
    page.goto("/notifications/")
    page.wait_for_function(OPEN, timeout=30_000)
    return page


@pytest.mark.parametrize("name", BLOCKS)
def test_an_unread_notification_with_every_part(page: Any, name: str) -> None:
    n = {
        "id": 7,
        "seq": 3,
        "level": "success",
        "title": "Title",
        "verb": "x",
        "body": "Body",
        "url": "/x/",
        "created_at": "2026-01-02T03:04:05+00:00",
        "read": False,
    }
    out = page.evaluate(RENDER, [name, n])
    block = BLOCKS[name]
    assert out["className"].split() == [block, f"{block}--success", "is-unread"]
    assert (out["id"], out["seq"]) == ("7", "3")
    assert out["hrefs"] == ["/x/"]
    assert set(out["titles"]) == {"Title"}
    assert out["bodies"] == ["Body"]
    assert all(time == n["created_at"] for time in out["times"])
    assert not any(out["unreadOnlyHidden"])
    # mark read, archive, snooze, delete
    assert out["ids"] == (["7"] * 4 if name == "entry" else [])


@pytest.mark.parametrize("name", BLOCKS)
def test_a_read_notification_without_url_or_body_and_html_in_its_title(
    page: Any, name: str
) -> None:
    title = '<img src=x onerror="window.__pwned=1">'
    n = {"id": 8, "seq": 4, "level": "bogus", "title": title, "body": "", "url": "javascript:x()"}
    out = page.evaluate(RENDER, [name, {**n, "read": True}])
    block = BLOCKS[name]
    assert out["className"].split() == [block, f"{block}--info"]
    assert out["hrefs"] == [None], "an unsafe url gives no href"
    assert set(out["titles"]) == {title}
    assert out["bodies"] == []
    assert all(out["unreadOnlyHidden"])
    assert "img" not in out["elements"]
    untitled = page.evaluate(RENDER, [name, {**n, "title": "", "verb": "pinged"}])
    assert set(untitled["titles"]) == {"pinged"}
