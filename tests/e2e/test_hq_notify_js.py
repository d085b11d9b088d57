"""A page built on django-notifications-hq's notify.js and tags, in Chromium, where our client also
runs: new and read notifications reach hq's badge and list at once, without waiting for its poll."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.template import engines
from django.test import RequestFactory

from notifications import api, notify
from tests.e2e.test_browser import open_page

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

HQ_MARKUP = """
document.body.insertAdjacentHTML("beforeend", %s);
"""


def _hq_tags(user: Any) -> tuple[str, str]:
    """What {% live_notify_badge %}, {% live_notify_list %} and {% register_notify_callbacks %} write,
    with hq's poll slowed to an hour: only our client's events can update the page in time."""
    request = RequestFactory().get("/")
    request.user = user
    render = engines["django"].from_string
    markup = render(
        "{% load notifications_tags %}{% live_notify_badge badge_class='hq-badge' %}"
        "{% live_notify_list list_class='hq-list' %}"
    ).render({"request": request})
    script = render(
        "{% load notifications_tags %}{% register_notify_callbacks badge_class='hq-badge' "
        "menu_class='hq-list' refresh_period=3600 callbacks='fill_notification_list,"
        "fill_notification_badge' %}"
    ).render({"request": request})
    return markup, script.removeprefix('<script type="text/javascript">').removesuffix("</script>")


def test_notify_js_page_updates_live(login: Any, alice: Any) -> None:
    page = open_page(login(alice), "/notifications/")
    markup, settings = _hq_tags(alice)
    page.evaluate(HQ_MARKUP % json.dumps(markup))
    page.add_script_tag(url="/static/notifications/notify.js")
    page.add_script_tag(content=settings)
    page.add_script_tag(content="window.__fills = 0; register_notifier(() => window.__fills++);")
    page.wait_for_function(
        "window.__fills === 1"
    )  # notify.js's first fetch; the next is in an hour
    assert page.text_content(".hq-badge") == "0"

    [n] = notify(alice, "said <img src=x onerror=window.__owned=1>", title="Hi")
    page.wait_for_function("document.querySelector('.hq-badge').textContent === '1'")
    page.wait_for_function("document.querySelectorAll('.hq-list li').length === 1")
    item = page.text_content(".hq-list li") or ""
    assert "said <img src=x onerror=window.__owned=1>" in item  # text, not markup
    assert page.evaluate("window.__owned") is None

    api.mark_read(alice, [n.pk])
    page.wait_for_function("document.querySelector('.hq-badge').textContent === '0'")
    page.wait_for_function("document.querySelectorAll('.hq-list li').length === 0")
    assert page.errors == []
