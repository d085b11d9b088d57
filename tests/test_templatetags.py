"""{% load notifications %}: the script tag, the bell, the unread count, the url and badge filters."""

from __future__ import annotations

import datetime
import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.utils import timezone

from notifications import api, notify
from notifications.protocol import SNOOZE_PRESETS
from notifications.templatetags.notifications import (
    notification_age,
    notification_badge,
    safe_href,
)
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def render(source: str, user: Any = None, **context: Any) -> str:
    request = RequestFactory().get("/")
    if user is not None:
        request.user = user
    else:
        from django.contrib.auth.models import AnonymousUser

        request.user = AnonymousUser()
    return Template("{% load notifications %}" + source).render(
        Context({"request": request, **context})
    )


def test_script_writes_module_and_stylesheet() -> None:
    html = render("{% notifications_script %}")
    assert '<script type="module" src="/static/notifications/js/notifications.js"></script>' in html
    assert '<link rel="stylesheet" href="/static/notifications/css/notifications.css">' in html
    # Django's JavaScript catalog, before the module (both run in document order, after parsing).
    assert '<script src="/notifications/jsi18n/" defer></script>' in html
    assert html.index("jsi18n") < html.index('type="module"')
    assert "nonce" not in html


def test_script_nonce_from_argument_context_or_request() -> None:
    assert html_nonces(render('{% notifications_script nonce="abc" %}')) == ["abc"] * 3
    assert html_nonces(render("{% notifications_script %}", csp_nonce="ctx")) == ["ctx"] * 3
    request = RequestFactory().get("/")
    request.csp_nonce = "req"  # type: ignore[attr-defined]
    html = Template("{% load notifications %}{% notifications_script %}").render(
        Context({"request": request})
    )
    assert html_nonces(html) == ["req"] * 3


def test_script_nonce_is_escaped() -> None:
    html = render("{% notifications_script nonce=evil %}", evil='"><script>alert(1)</script>')
    assert "<script>alert(1)" not in html


def html_nonces(html: str) -> list[str]:
    return re.findall(r'nonce="([^"]*)"', html)


TEMPLATES = ("bell", "item", "toast", "toasts")


def templates_in(html: str) -> list[str]:
    return re.findall(r'<template data-notifications-template="([a-z]+)">', html)


def test_script_writes_the_templates_the_client_clones() -> None:
    assert templates_in(render("{% notifications_script %}")) == list(TEMPLATES)
    alone = render("{% notifications_templates %}")
    assert templates_in(alone) == list(TEMPLATES)
    assert "<script" not in alone


class Hooks(HTMLParser):
    """The elements of some markup as (tag, classes, data-notifications-* hooks), in order."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "template":
            return
        hooks = [
            f"{name}={value}" if name == "data-notifications-field" else name
            for name, value in attrs
            if name.startswith("data-notifications-")
            or name in ("data-notification-id", "data-seq")
        ]
        self.found.append((tag, dict(attrs).get("class") or "", hooks))


def hooks(html: str) -> list[tuple[str, str, list[str]]]:
    parser = Hooks()
    parser.feed(html)
    return parser.found


def between(html: str, start: str, end: str) -> str:
    return html[html.index(start) : html.index(end, html.index(start)) + len(end)]


def test_a_rendered_item_and_the_template_the_client_fills_are_one_markup(alice: Any) -> None:
    # Every optional part present: a body, and the actors of a group.
    for name in ("ann", "bob"):
        notify(alice, "x", title="T", body="B", url="/x/", actor=make_user(name), group_key="k")
    bell = render("{% notifications_bell %}", user=alice)
    item = between(bell, '<li class="notifications-item', "</li>")
    template = between(
        render("{% notifications_templates %}"),
        '<template data-notifications-template="item">',
        "</li>",
    )
    assert hooks(item) == hooks(template)
    assert "data-notifications-link" in item and 'href="/x/"' in item


def test_the_bell_and_the_list_page_offer_the_protocols_snooze_presets(alice: Any) -> None:
    notify(alice, "x", title="Ann & <b>")
    bell = render("{% notifications_bell %}", user=alice)
    client = Client()
    client.force_login(alice)
    page = client.get("/notifications/").content.decode()
    entry = between(page, '<li class="notifications-entry', "</li>")
    item = between(bell, '<li class="notifications-item', "</li>")
    for html, prefix in ((item, "notifications-item"), (entry, "notifications-entry")):
        presets = re.findall(rf'name="preset" value="(\w+)" class="{prefix}__button"', html)
        assert presets == list(SNOOZE_PRESETS)
        # Each button is named with the notification's title, escaped.
        name = 'Snooze “<span data-notifications-field="title">Ann &amp; &lt;b&gt;</span>”:'
        assert html.count(name) == len(SNOOZE_PRESETS)


def test_the_bell_and_the_list_page_carry_one_config(alice: Any) -> None:
    def config(html: str, root: str) -> dict[str, str]:
        tag = re.search(rf"<[a-z]+ [^>]*{root}[^>]*>", html)
        assert tag is not None
        names = re.findall(r'(data-[a-z-]+)="([^"]*)"', tag.group(0))
        return {
            name: value
            for name, value in names
            if name not in ("data-first-page", "data-filter", "data-view")
        }

    bell = render("{% notifications_bell %}", user=alice)
    client = Client()
    client.force_login(alice)
    page = client.get("/notifications/").content.decode()
    on_bell = config(bell, "data-notifications-bell")
    on_page = config(page, "data-notifications-page")
    assert set(on_bell) == set(on_page)
    assert len(on_bell) == 10
    assert templates_in(page).count("entry") == 1


def test_bell_renders_nothing_when_signed_out() -> None:
    assert render("{% notifications_bell %}").strip() == ""


def test_bell_has_exact_count_config_and_latest_items(alice: Any) -> None:
    for i in range(3):
        notify(alice, "pinged", title=f"Title {i}", url="/x/")
    api.mark_read(alice, [alice.notifications.order_by("seq").first().pk])
    html = render("{% notifications_bell %}", user=alice)
    assert 'data-unread-count="2"' in html
    assert 'data-last-seq="3"' in html
    assert 'data-ws-path="/ws/notifications/"' in html
    assert 'data-api-url="/notifications/api/"' in html
    assert re.search(r'data-csrf-token="[A-Za-z0-9]{32,}"', html)
    assert 'data-sound="false"' in html
    assert f'data-user-id="{alice.pk}"' in html
    assert re.search(r"<span class=\"notifications-badge\" data-notifications-badge>2</span>", html)
    titles = re.findall(r'class="notifications-item__title"[^>]*>([^<]*)<', html)
    assert titles == ["Title 2", "Title 1", "Title 0"]
    assert html.count("is-unread") == 2
    initial = re.search(
        r'<script id="notifications-initial" type="application/json">(.*?)</script>', html, re.S
    )
    assert initial is not None
    assert [n["seq"] for n in json.loads(initial.group(1))] == [3, 2, 1]


def test_bell_badge_hidden_at_zero_and_capped(alice: Any) -> None:
    html = render("{% notifications_bell %}", user=alice)
    assert "data-notifications-badge hidden" in html
    assert notification_badge(0) == ""
    assert notification_badge(7) == "7"
    assert notification_badge(99) == "99"
    assert notification_badge(100) == "99+"
    assert notification_badge("x") == ""


def test_bell_options(alice: Any) -> None:
    html = render("{% notifications_bell sound=True toast_duration=0 %}", user=alice)
    assert 'data-sound="true"' in html
    assert 'data-toast-duration="0"' in html


def test_bell_escapes_text_and_drops_unsafe_urls(alice: Any) -> None:
    notify(alice, "x", title="<img src=x onerror=alert(1)>", body="<script>alert(2)</script>")
    html = render("{% notifications_bell %}", user=alice)
    assert "<img src=x" not in html
    assert "<script>alert(2)" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_unread_count_tag(alice: Any) -> None:
    assert render("{% unread_notifications_count %}").strip() == "0"
    notify(alice, "x", title="a")
    notify(alice, "x", title="b")
    assert render("{% unread_notifications_count %}", user=alice).strip() == "2"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/posts/3/", "/posts/3/"),
        ("https://example.com/a", "https://example.com/a"),
        ("", ""),
        ("//evil.example/", ""),
        ("/\\evil.example/", ""),
        ("javascript:alert(1)", ""),
        ("java\tscript:alert(1)", ""),
        ("data:text/html,x", ""),
        ("relative", ""),
        (None, ""),
    ],
)
def test_safe_href(url: Any, expected: str) -> None:
    assert safe_href(url) == expected
    assert render("{{ url|notification_href }}", url=url).strip() == expected.replace("&", "&amp;")


@pytest.mark.parametrize(
    ("age", "shown"),
    [
        (datetime.timedelta(seconds=-30), "now"),  # a clock ahead of ours
        (datetime.timedelta(seconds=0), "now"),
        (datetime.timedelta(seconds=59), "now"),
        (datetime.timedelta(seconds=60), "1 minute ago"),
        (datetime.timedelta(minutes=59, seconds=59), "59 minutes ago"),
        (datetime.timedelta(hours=1, minutes=59), "1 hour ago"),
        (datetime.timedelta(days=2, hours=23), "2 days ago"),
    ],
)
def test_notification_age_is_the_clients_rule(age: datetime.timedelta, shown: str) -> None:
    # core.js formatTime: "now" under a minute, the largest unit floored (never "0 minutes ago").
    assert notification_age(timezone.now() - age).replace("\xa0", " ") == shown


def test_notification_age_past_a_week_is_a_date() -> None:
    created = datetime.datetime(2026, 1, 2, 10, 0, tzinfo=datetime.UTC)
    assert notification_age(created) == "01/02/2026"
    assert notification_age(None) == ""
