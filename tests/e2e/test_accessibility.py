"""axe-core (axe-playwright-python, which ships axe.js) over the demo's pages, the open dropdown, a toast
and the notifications page, in the light and dark colour schemes: no serious or critical violation."""

from __future__ import annotations

from typing import Any

import pytest

from notifications import notify
from project.demo.models import Post
from tests.conftest import make_user
from tests.e2e.conftest import _unavailable

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

OPEN = "window.notifications && window.notifications.state === 'open'"
SCHEMES = ["light", "dark"]


@pytest.fixture
def axe() -> Any:
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        _unavailable("axe-playwright-python is not installed (the test extra)")
    return Axe()


def serious(axe: Any, page: Any) -> list[str]:
    """The serious and critical violations on the page, one line each with the elements concerned."""
    results = axe.run(page)
    return [
        f"{page.url}: {v['impact']} {v['id']} ({v['help']}): "
        + ", ".join(str(node["target"]) for node in v["nodes"][:5])
        for v in results.response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_demo_pages(
    axe: Any, login: Any, browser: Any, server: Any, alice: Any, scheme: str
) -> None:
    bob = make_user("bob")
    own = Post.objects.create(author=alice, title="Release notes", body="Draft")
    other = Post.objects.create(author=bob, title="Roadmap")
    other.comments.create(author=bob, body="First!")
    notify(alice, "commented", title="Bob commented", body="Looks good", url="/demo/posts/")
    notify(alice, "x", title="Read one")
    found: list[str] = []

    signed_out = browser.new_context(base_url=server.url, color_scheme=scheme)
    page = signed_out.new_page()
    page.goto("/accounts/login/")
    found += serious(axe, page)
    signed_out.close()

    context = login(alice, color_scheme=scheme)
    page = context.new_page()
    for path in [
        "/",
        "/send/",
        "/notifications/",
        "/notifications/?filter=unread",
        "/demo/posts/",
        own.get_absolute_url(),
        other.get_absolute_url(),
    ]:
        page.goto(path)
        page.wait_for_function(OPEN, timeout=30_000)
        found += serious(axe, page)
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_open_dropdown_and_a_toast(axe: Any, login: Any, alice: Any, scheme: str) -> None:
    notify(alice, "x", title="Earlier", body="An older one")
    page = login(alice, color_scheme=scheme).new_page()
    page.goto("/")
    page.wait_for_function(OPEN, timeout=30_000)
    notify(alice, "x", title="Live one", body="Arrived while the page was open", url="/")
    page.locator(".notifications-toast").wait_for()
    page.click("[data-notifications-toggle]")
    page.locator("[data-notifications-dropdown]").wait_for()
    found = serious(axe, page)
    assert found == [], "\n".join(found)
