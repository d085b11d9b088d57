"""The browser client in real Chromium against daphne (issue 4's end-to-end tests)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.template import Context, Template

from notifications import api, notify
from notifications.models import Notification
from tests import servers
from tests.conftest import make_user
from tests.e2e.conftest import Daphne

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

OPEN = "window.notifications && window.notifications.state === 'open'"

# A network where WebSockets never get through (each attempt fails like a refused connection).
NO_WEBSOCKETS = """
window.__socketAttempts = 0;
window.WebSocket = class {
  constructor() {
    window.__socketAttempts += 1;
    setTimeout(() => this.onclose && this.onclose({ code: 1006 }), 10);
  }
  send() { throw new Error("not open"); }
  close() {}
};
"""

# Sets data-* attributes on the client's root element before the module reads them.
SET_CONFIG = """
new MutationObserver((_, observer) => {
  const root = document.querySelector("[data-notifications]");
  if (root) { Object.assign(root.dataset, %s); observer.disconnect(); }
}).observe(document, { childList: true, subtree: true });
"""
BADGE = "[data-notifications-badge]"


def open_page(context: Any, path: str = "/") -> Any:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    page.goto(path)
    page.wait_for_function(OPEN, timeout=30_000)
    return page


def badge(page: Any) -> str:
    return str(
        page.evaluate(
            f"(() => {{ const b = document.querySelector('{BADGE}'); return b.hidden ? '' : b.textContent; }})()"
        )
    )


def wait_badge(page: Any, text: str, timeout: float = 10_000) -> None:
    page.wait_for_function(
        """(text) => { const b = document.querySelector('[data-notifications-badge]');
                       return (b.hidden ? '' : b.textContent) === text; }""",
        arg=text,
        timeout=timeout,
    )


def wait_until(check: Callable[[], bool], page: Any = None, timeout: float = 10.0) -> None:
    """Polls `check`; with a page, Playwright keeps dispatching its events meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if page is not None:
            page.wait_for_timeout(50)
        else:
            time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_live_notification_updates_badge_and_shows_toast(
    login: Any, alice: Any, redis_url: str
) -> None:
    page = open_page(login(alice))
    assert badge(page) == ""
    # Sent from a third process: neither this test process nor daphne.
    servers.manage(
        redis_url,
        "notify",
        "alice",
        "--verb=commented",
        "--title=Bob commented",
        "--body=Looks good",
        "--level=success",
        "--url=/x/",
    )
    wait_badge(page, "1")
    toast = page.locator(".notifications-toast")
    toast.wait_for()
    assert toast.locator(".notifications-toast__title").text_content() == "Bob commented"
    assert "notifications-toast--success" in (toast.get_attribute("class") or "")
    assert page.locator("[data-notifications-toasts]").get_attribute("aria-live") == "polite"
    page.click("[data-notifications-toggle]")
    assert page.get_attribute("[data-notifications-toggle]", "aria-expanded") == "true"
    items = page.locator("[data-notifications-items] > li")
    assert items.count() == 1
    assert (
        items.first.get_attribute("class")
        == "notifications-item notifications-item--success is-unread"
    )
    assert page.errors == []


def test_badge_is_right_before_the_socket_connects_and_caps_at_99(login: Any, alice: Any) -> None:
    for i in range(100):
        notify(alice, "x", title=f"n{i}")
    context = login(alice)
    # No WebSocket: the badge must already be right from the server-rendered page.
    context.add_init_script(NO_WEBSOCKETS)
    page = context.new_page()
    page.goto("/")
    assert page.locator(BADGE).text_content() == "99+"
    page.wait_for_function("window.notifications !== undefined")
    assert badge(page) == "99+"


def test_mark_read_in_one_tab_updates_the_other(login: Any, alice: Any) -> None:
    first, second = notify(alice, "x", title="first")[0], notify(alice, "x", title="second")[0]
    context = login(alice)
    tab_a = open_page(context, "/")
    tab_b = open_page(context, "/notifications/")
    assert badge(tab_a) == badge(tab_b) == "2"
    tab_b.evaluate(
        """() => { window.__read = [];
                   document.addEventListener('notifications:read',
                                             (e) => window.__read.push(e.detail)); }"""
    )
    tab_a.click("[data-notifications-toggle]")
    tab_a.click(f'[data-notification-id="{second.pk}"] [data-notifications-read]')
    wait_badge(tab_b, "1")
    wait_badge(tab_a, "1")
    assert tab_b.evaluate("window.__read") == [{"ids": [second.pk], "unread_count": 1}]
    row = tab_b.locator(f'[data-notification-id="{second.pk}"]').first
    assert "is-unread" not in (row.get_attribute("class") or "")
    assert not row.locator('[data-notifications-action="mark-read"]').is_visible()
    # ...and the other way round, from the list page: mark all read.
    tab_b.locator('[data-notifications-action="mark-all-read"] button[type="submit"]').click()
    wait_badge(tab_a, "")
    wait_badge(tab_b, "")
    assert Notification.objects.unread().filter(recipient=alice).count() == 0
    assert first.pk
    # A new notification appears on the list page too, with working forms.
    third = notify(alice, "x", title="third")[0]
    row = tab_b.locator(f'.notifications-page [data-notification-id="{third.pk}"]')
    row.wait_for()
    assert tab_b.locator(".notifications-entry__title").first.text_content() == "third"
    wait_badge(tab_a, "1")
    row.locator('button:has-text("Mark read")').click()
    wait_badge(tab_a, "")
    wait_until(lambda: Notification.objects.get(pk=third.pk).read_at is not None)
    # Delete, live: the row goes in this tab and the item in the other tab's dropdown.
    assert (
        tab_a.locator(f'[data-notifications-items] [data-notification-id="{third.pk}"]').count()
        == 1
    )
    row.locator('button:has-text("Delete")').click()
    row.wait_for(state="detached")
    tab_a.locator(f'[data-notifications-items] [data-notification-id="{third.pk}"]').wait_for(
        state="detached"
    )
    assert not Notification.objects.filter(pk=third.pk).exists()
    assert tab_b.url.endswith("/notifications/"), "handled in place, no form post"


def test_one_socket_per_browser_and_leader_handover(login: Any, alice: Any, server: Daphne) -> None:
    context = login(alice)
    tab_a = open_page(context)
    tab_b = open_page(context)
    tab_b.wait_for_timeout(500)
    assert server.sockets()["open"] == 1
    leaders = [tab.evaluate("window.notifications.isLeader") for tab in (tab_a, tab_b)]
    assert sorted(leaders) == [False, True]
    leader, follower = (tab_a, tab_b) if leaders[0] else (tab_b, tab_a)
    leader.close()
    started = time.monotonic()
    follower.wait_for_function("window.notifications.isLeader", timeout=5_000)
    follower.wait_for_function(OPEN, timeout=5_000)
    assert time.monotonic() - started < 5
    wait_until(lambda: server.sockets()["open"] == 1)
    assert server.sockets()["accepted"] == 2
    # The new leader delivers.
    notify(alice, "x", title="after handover")
    wait_badge(follower, "1")


NOTIFICATION_SPY = """
(() => {
  window.__created = [];
  window.__permissionRequests = 0;
  window.__hidden = false;
  class SpyNotification {
    static permission = %(permission)s;
    static requestPermission() {
      window.__permissionRequests += 1;
      SpyNotification.permission = "granted";
      return Promise.resolve("granted");
    }
    constructor(title, options = {}) {
      this.title = title;
      this.options = options;
      this.onclick = null;
      window.__created.push({ title, tag: options.tag, body: options.body });
      window.__lastNotification = this;
    }
    close() {}
  }
  window.Notification = SpyNotification;
  Object.defineProperty(Document.prototype, "visibilityState", {
    configurable: true,
    get: () => (window.__hidden ? "hidden" : "visible"),
  });
})();
"""


def hide(page: Any) -> None:
    page.evaluate("window.__hidden = true; document.dispatchEvent(new Event('visibilitychange'))")


def created(pages: list[Any]) -> list[dict[str, Any]]:
    return [note for page in pages for note in page.evaluate("window.__created")]


def test_native_notification_when_hidden_once_across_tabs(login: Any, alice: Any) -> None:
    context = login(alice)
    context.grant_permissions(["notifications"])
    context.add_init_script(NOTIFICATION_SPY % {"permission": '"granted"'})
    tabs = [open_page(context), open_page(context, "/notifications/")]
    notify(alice, "x", title="While you look")
    wait_badge(tabs[0], "1")
    assert created(tabs) == [], "no native notification while a tab is visible"
    hide(tabs[0])
    tabs[0].wait_for_timeout(300)
    assert created(tabs) == [], "the other tab is still visible"
    hide(tabs[1])
    tabs[1].wait_for_timeout(300)
    n = notify(alice, "x", title="Away", body="from the test", url="/notifications/?filter=unread")[
        0
    ]
    wait_badge(tabs[0], "2")
    wait_badge(tabs[1], "2")
    tabs[0].wait_for_timeout(500)
    assert created(tabs) == [
        {"title": "Away", "tag": f"notification-{n.pk}", "body": "from the test"}
    ]
    # Clicking it marks it read and opens its url.
    leader = next(tab for tab in tabs if tab.evaluate("window.__created.length") == 1)
    with leader.expect_navigation():
        leader.evaluate("window.__lastNotification.onclick({ preventDefault() {} })")
    assert leader.url.endswith("/notifications/?filter=unread")
    wait_until(lambda: Notification.objects.get(pk=n.pk).read_at is not None)


def test_permission_is_asked_only_from_the_button(login: Any, alice: Any) -> None:
    context = login(alice)
    context.add_init_script(NOTIFICATION_SPY % {"permission": '"default"'})
    page = open_page(context)
    page.wait_for_timeout(300)
    assert page.evaluate("window.__permissionRequests") == 0
    page.click("[data-notifications-toggle]")
    button = page.locator("[data-notifications-enable-desktop]")
    assert button.is_visible()
    button.click()
    page.wait_for_function("window.__permissionRequests === 1")
    assert button.is_hidden()


def test_reconnects_after_server_restart_and_shows_missed_once(
    login: Any, alice: Any, server: Daphne
) -> None:
    notify(alice, "x", title="before")
    page = open_page(login(alice))
    server.stop()
    page.wait_for_function("window.notifications.state !== 'open'", timeout=10_000)
    missed = [notify(alice, "x", title=f"missed {i}")[0] for i in range(3)]
    server.start()
    page.wait_for_function(OPEN, timeout=45_000)
    wait_badge(page, "4")
    page.wait_for_timeout(500)
    for n in missed:
        assert page.locator(f'.notifications-toast[data-notification-id="{n.pk}"]').count() == 1
        assert (
            page.locator(f'[data-notifications-items] [data-notification-id="{n.pk}"]').count() == 1
        )
    assert page.locator(".notifications-toast").count() == 3
    titles = page.locator(
        "[data-notifications-items] .notifications-item__title"
    ).all_text_contents()
    assert titles == ["missed 2", "missed 1", "missed 0", "before"]
    # A replay of everything (as after a seq gap) shows nothing twice.
    sent = page.evaluate(
        """() => { window.__received = 0;
                   document.addEventListener('notifications:received', () => window.__received++);
                   return window.notifications.client.send({type: 'sync', since: 0}); }"""
    )
    assert sent is True
    page.wait_for_timeout(1000)
    assert page.evaluate("window.__received") == 0
    assert page.locator(".notifications-toast").count() == 3
    assert page.locator("[data-notifications-items] > li").count() == 4
    wait_badge(page, "4")


def test_html_in_title_and_body_is_text(login: Any, alice: Any) -> None:
    context = login(alice)
    page = open_page(context)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.evaluate("window.__pwned = 0")
    title = '<img src=x onerror="window.__pwned=1;alert(1)">'
    body = "<script>window.__pwned=2;alert(2)</script><b>bold</b>"
    notify(alice, "x", title=title, body=body)
    toast = page.locator(".notifications-toast")
    toast.wait_for()
    assert toast.locator(".notifications-toast__title").text_content() == title
    assert toast.locator(".notifications-toast__body").text_content() == body
    page.click("[data-notifications-toggle]")
    assert page.locator(".notifications-item__title").first.text_content() == title
    page.wait_for_timeout(300)
    assert (
        page.locator("img[src=x], .notifications-toast script, .notifications-toast b").count() == 0
    )
    assert page.evaluate("window.__pwned") == 0
    assert dialogs == []
    # The server-rendered bell and list page escape it too.
    page.goto("/notifications/")
    page.wait_for_function(OPEN)
    assert page.locator(".notifications-entry__title").first.text_content() == title
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []


def entry(page: Any, pk: int) -> Any:
    return page.locator(f'.notifications-page [data-notification-id="{pk}"]')


def test_list_page_without_javascript(login: Any, alice: Any) -> None:
    old = notify(alice, "x", title="old one")[0]
    new = notify(alice, "x", title="new one")[0]
    context = login(alice, java_script_enabled=False)
    page = context.new_page()
    page.goto("/")
    # Without JavaScript the bell is a link-like form to the list page.
    page.click("[data-notifications-toggle]")
    page.wait_for_url("**/notifications/**")
    assert page.locator(".notifications-entry").count() == 2
    entry(page, new.pk).locator('button:has-text("Mark read")').click()
    page.wait_for_url("**/notifications/")
    assert api.unread_count(alice) == 1
    assert "is-unread" not in (entry(page, new.pk).get_attribute("class") or "")
    page.click(".notifications-page__filter >> text=Unread")
    assert page.locator(".notifications-entry__title").all_text_contents() == ["old one"]
    page.locator('[data-notifications-action="mark-all-read"] button[type="submit"]').click()
    assert api.unread_count(alice) == 0
    assert page.locator(".notifications-page__empty").is_visible()
    page.click(".notifications-page__filter >> text=All")
    entry(page, old.pk).locator('button:has-text("Delete")').click()
    assert page.locator(".notifications-entry__title").all_text_contents() == ["new one"]
    assert not Notification.objects.filter(pk=old.pk).exists()


def test_seq_gap_asks_for_sync_and_fills_it(login: Any, alice: Any) -> None:
    """A notification lost on the way (dropped here by a WebSocket route) is fetched by `sync`."""
    context = login(alice)
    from_page: list[dict[str, Any]] = []
    dropped: list[int] = []

    def route(ws: Any) -> None:
        upstream = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame["type"] == "notification" and not dropped:
                dropped.append(frame["notification"]["seq"])
                return
            ws.send(message)

        def from_client(message: str | bytes) -> None:
            from_page.append(json.loads(message))
            upstream.send(message)

        upstream.on_message(from_server)
        ws.on_message(from_client)

    context.route_web_socket("**/ws/notifications/**", route)
    page = open_page(context)
    lost = notify(alice, "x", title="lost on the way")[0]
    wait_until(lambda: dropped == [lost.seq], page)
    notify(alice, "x", title="after the gap")
    page.wait_for_function(
        "document.querySelectorAll('[data-notifications-items] > li').length === 2"
    )
    assert {"type": "sync", "since": lost.seq - 1} in from_page
    titles = page.locator("[data-notifications-items] .notifications-item__title")
    assert titles.all_text_contents() == ["after the gap", "lost on the way"]
    wait_badge(page, "2")
    page.wait_for_timeout(500)
    assert page.locator(".notifications-toast").count() == 2


@pytest.mark.parametrize("who_logs_out", ["leader", "follower"])
def test_logout_closes_with_4401_and_no_tab_reconnects(
    login: Any, alice: Any, server: Daphne, who_logs_out: str
) -> None:
    context = login(alice)
    tabs = [open_page(context), open_page(context)]
    leader = next(tab for tab in tabs if tab.evaluate("window.notifications.isLeader"))
    follower = next(tab for tab in tabs if tab is not leader)
    stays, leaves = (follower, leader) if who_logs_out == "leader" else (leader, follower)
    stays.evaluate(
        """() => { window.__states = [];
                   document.addEventListener('notifications:connection',
                                             (e) => window.__states.push(e.detail.state)); }"""
    )
    with leaves.expect_navigation():
        leaves.click('form[action$="/logout/"] button')
    stays.wait_for_function("window.notifications.state === 'signed-out'", timeout=10_000)
    stays.wait_for_function("window.notifications.client.signedOut", timeout=10_000)
    stays.wait_for_timeout(1_000)
    settled = server.sockets()
    stays.wait_for_timeout(3_000)
    assert server.sockets() == settled, "nobody goes on trying"
    # One refused handshake may slip in while the logout request is still being handled (Django sends
    # user_logged_out before it flushes the session); the next failure finds the session gone.
    assert settled["open"] == 0 and settled["accepted"] == 1 and settled["attempts"] <= 2
    assert "open" not in stays.evaluate("window.__states")
    assert stays.evaluate("window.__states").pop() == "signed-out"
    assert stays.locator("#status").text_content().startswith("Signed out")  # the demo's label


def test_keyboard_and_screen_reader_access(login: Any, alice: Any) -> None:
    notify(alice, "x", title="Keyboard")
    page = open_page(login(alice))
    toggle = page.locator("[data-notifications-toggle]")
    assert toggle.get_attribute("aria-haspopup") == "true"
    assert toggle.get_attribute("aria-controls") == "notifications-dropdown"
    assert toggle.get_attribute("aria-label") == "Notifications, 1 unread"
    toggle.focus()
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true"
    assert page.evaluate(
        "document.getElementById('notifications-dropdown').contains(document.activeElement)"
    )
    page.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert page.locator("#notifications-dropdown").is_hidden()
    assert page.evaluate("document.activeElement.hasAttribute('data-notifications-toggle')")
    # Marking the focused item read keeps focus inside the dropdown.
    page.keyboard.press("Enter")
    assert page.get_by_role("button", name="Mark “Keyboard” as read", exact=True).count() == 1
    page.locator(".notifications-item__read").focus()
    page.keyboard.press("Enter")
    wait_badge(page, "")
    assert page.evaluate(
        "document.getElementById('notifications-dropdown').contains(document.activeElement)"
    )
    assert toggle.get_attribute("aria-label") == "Notifications"


def test_mark_read_falls_back_to_http_without_a_socket(login: Any, alice: Any) -> None:
    n = notify(alice, "x", title="over HTTP")[0]
    context = login(alice)
    context.add_init_script(NO_WEBSOCKETS)
    page = context.new_page()
    posts: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda request: (
            posts.append({"url": request.url, "headers": request.headers})
            if request.method == "POST"
            else None
        ),
    )
    page.goto("/")
    page.wait_for_function("window.__socketAttempts > 0 && window.notifications.state === 'closed'")
    page.evaluate(f"window.notifications.markRead([{n.pk}])")
    wait_badge(page, "")
    assert Notification.objects.get(pk=n.pk).read_at is not None
    assert posts[0]["url"].endswith("/notifications/api/mark-read/")
    assert posts[0]["headers"]["x-csrftoken"]


AUDIO_SPY = """
(() => {
  window.__beeps = [];
  class SpyAudioContext {
    constructor() { this.currentTime = 0; this.destination = {}; }
    createGain() {
      return { gain: { setValueAtTime() {}, exponentialRampToValueAtTime() {} }, connect: (d) => d };
    }
    createOscillator() {
      const osc = { frequency: { setValueAtTime: (hz) => (osc.hz = hz) },
                    connect: (node) => node, stop() {},
                    start: () => window.__beeps.push(osc.hz) };
      return osc;
    }
  }
  window.AudioContext = SpyAudioContext;
})();
"""


@pytest.mark.parametrize("sound", [False, True])
def test_sound_is_off_by_default_and_beeps_when_on(login: Any, alice: Any, sound: bool) -> None:
    context = login(alice)
    context.add_init_script(AUDIO_SPY)
    if sound:
        context.add_init_script(SET_CONFIG % json.dumps({"sound": "true"}))
    page = open_page(context)
    notify(alice, "x", title="ding")
    page.locator(".notifications-toast").wait_for()
    assert page.evaluate("window.__beeps") == ([880] if sound else [])


def test_far_behind_gets_reset_and_refetches_over_http(
    login: Any, alice: Any, server: Daphne
) -> None:
    """Past CATCH_UP_LIMIT (200) missed notifications the server says `reset`: every tab refetches."""
    context = login(alice)
    tabs = [open_page(context), open_page(context)]
    for tab in tabs:
        tab.evaluate(
            """() => { window.__received = 0;
                       document.addEventListener('notifications:received', () => window.__received++); }"""
        )
    server.stop()
    tabs[0].wait_for_function("window.notifications.state !== 'open'", timeout=10_000)
    for i in range(205):
        notify(alice, "x", title=f"missed {i}")
    server.start()
    for tab in tabs:
        tab.wait_for_function(OPEN, timeout=45_000)
        wait_badge(tab, "99+")
        tab.wait_for_function(
            "document.querySelectorAll('[data-notifications-items] > li').length === 20"
        )
        titles = tab.locator("[data-notifications-items] .notifications-item__title")
        assert titles.first.text_content() == "missed 204"
        assert tab.evaluate("window.__received") == 0, "a snapshot is not 205 new notifications"
    # Live delivery goes on from the snapshot's last seq, with no gap to fill.
    notify(alice, "x", title="live again")
    for tab in tabs:
        tab.locator('.notifications-toast:has-text("live again")').wait_for()
        assert tab.evaluate("window.__received") == 1


def test_without_web_locks_every_tab_holds_its_own_socket(
    login: Any, alice: Any, server: Daphne
) -> None:
    context = login(alice)
    context.add_init_script("delete Navigator.prototype.locks;")
    tabs = [open_page(context), open_page(context)]
    assert all(tab.evaluate("window.notifications.isLeader") for tab in tabs)
    wait_until(lambda: server.sockets()["open"] == 2)
    n = notify(alice, "x", title="both")[0]
    for tab in tabs:
        wait_badge(tab, "1")
    tabs[0].evaluate(f"window.notifications.markRead({n.pk})")
    wait_badge(tabs[1], "")


def test_toasts_go_after_their_duration_or_when_dismissed(login: Any, alice: Any) -> None:
    context = login(alice)
    context.add_init_script(SET_CONFIG % json.dumps({"toastDuration": "800"}))
    page = open_page(context)
    notify(alice, "x", title="short-lived")
    toast = page.locator(".notifications-toast")
    toast.wait_for()
    started = time.monotonic()
    toast.wait_for(state="detached", timeout=5_000)
    assert time.monotonic() - started < 3
    page.evaluate("window.notifications.client.toasts.duration = 0")
    notify(alice, "x", title="stays until dismissed")
    toast.wait_for()
    page.wait_for_timeout(1_200)
    assert toast.count() == 1
    toast.get_by_role("button", name="Dismiss").click()
    assert toast.count() == 0


def test_a_gap_that_cannot_be_filled_is_given_up(login: Any, alice: Any) -> None:
    """The missing notification was deleted before the client saw it: after the sync the client stops
    waiting for it and resumes from the highest seq it has."""
    context = login(alice)
    urls: list[str] = []
    routes: list[Any] = []
    dropped: list[int] = []

    def route(ws: Any) -> None:
        urls.append(ws.url)
        routes.append(ws)
        upstream = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame["type"] == "notification" and not dropped:
                dropped.append(frame["notification"]["seq"])
                return
            ws.send(message)

        upstream.on_message(from_server)

    context.route_web_socket("**/ws/notifications/**", route)
    page = open_page(context)
    lost = notify(alice, "x", title="deleted before seen")[0]
    wait_until(lambda: dropped == [lost.seq], page)
    api.delete(alice, [lost.pk])
    kept = notify(alice, "x", title="kept")[0]
    page.locator('.notifications-toast:has-text("kept")').wait_for()
    assert page.evaluate("window.notifications.client.tracker.since") == lost.seq - 1
    page.wait_for_function(
        f"window.notifications.client.tracker.since === {kept.seq}", timeout=10_000
    )
    routes[-1].close()
    wait_until(lambda: len(urls) == 2, page)
    assert urls[-1].endswith(f"?since={kept.seq}")


@pytest.mark.parametrize("next_user", ["bob", "alice"])
def test_tabs_of_a_signed_out_session_do_not_block_the_next_one(
    login: Any, alice: Any, server: Daphne, next_user: str
) -> None:
    """alice signs out in one tab and someone signs in there: that page leads its own socket (the
    signed-out leader gave up its lock), and a tab still showing alice's page hears nothing of bob's."""
    make_user("bob")
    context = login(alice)
    tabs = [open_page(context), open_page(context)]
    # The tab left showing alice's page is the leader: it must let go of the lead.
    alice_tab = next(tab for tab in tabs if tab.evaluate("window.notifications.isLeader"))
    other = next(tab for tab in tabs if tab is not alice_tab)
    with other.expect_navigation():
        other.click('form[action$="/logout/"] button')
    alice_tab.wait_for_function("window.notifications.client.signedOut", timeout=10_000)
    other.goto("/accounts/login/")
    other.fill("#id_username", next_user)
    other.fill("#id_password", next_user)
    with other.expect_navigation():
        other.click("main button[type=submit]")
    other.goto("/")  # the test settings have no LOGIN_REDIRECT_URL
    other.wait_for_function(OPEN, timeout=30_000)
    assert other.evaluate("window.notifications.isLeader")
    assert not alice_tab.evaluate("window.notifications.isLeader")
    user = get_user_model().objects.get(username=next_user)
    notify(user, "x", title=f"for {next_user}")
    other.locator(f'.notifications-toast:has-text("for {next_user}")').wait_for()
    assert server.sockets()["open"] == 1
    if next_user == "bob":
        alice_tab.wait_for_timeout(500)
        assert alice_tab.locator(".notifications-toast").count() == 0
        assert alice_tab.evaluate("window.notifications.state") == "signed-out"
    else:
        # Signed back in as alice: the old tab is served by the new leader again.
        alice_tab.locator('.notifications-toast:has-text("for alice")').wait_for()
        assert not alice_tab.evaluate("window.notifications.client.signedOut")


# A page of the site that no template of ours rendered (it has no bell and no script), given an empty
# bell element, the markup of the script tag (passed in: the <template> elements) and the module.
EMPTY_BELL = """(templates) => {
    const bell = document.createElement("div");
    bell.id = "bell";
    bell.dataset.notifications = "";
    bell.dataset.notificationsBell = "";
    document.body.append(bell);
    if (templates) document.head.insertAdjacentHTML("beforeend", templates);
    const script = document.createElement("script");
    script.type = "module";
    script.src = "/static/notifications/js/notifications.js";
    document.head.append(script);
}"""


def test_plain_script_tag_and_an_empty_bell_element(login: Any, alice: Any) -> None:
    """Without {% notifications_bell %}: an empty [data-notifications] element, the templates that
    {% notifications_templates %} writes and the module in a plain <script type="module">; the client
    clones the bell from its template and fetches the latest notifications."""
    for i in range(3):
        notify(alice, "x", title=f"n{i}")
    page = login(alice).new_page()
    page.goto("/notifications/api/unread-count/")
    page.evaluate(
        EMPTY_BELL,
        Template("{% load notifications %}{% notifications_templates %}").render(Context()),
    )
    page.wait_for_function(OPEN, timeout=30_000)
    wait_badge(page, "3")
    page.click("#bell [data-notifications-toggle]")
    titles = page.locator("#bell .notifications-item__title").all_text_contents()
    assert titles == ["n2", "n1", "n0"]
    assert page.locator("#bell a:has-text('See all notifications')").get_attribute("href") == (
        "/notifications/"
    )
    page.click("#bell [data-notifications-mark-all]")
    wait_badge(page, "")
    wait_until(lambda: api.unread_count(alice) == 0, page)


def test_missing_templates_are_named_and_the_rest_runs(login: Any, alice: Any) -> None:
    """A page that loads the module without the templates: the widgets that need them say so in the
    console, and the connection, the counts and the API still work."""
    n = notify(alice, "x", title="counted")[0]
    page = login(alice).new_page()
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto("/notifications/api/unread-count/")
    page.evaluate(EMPTY_BELL, "")
    page.wait_for_function(OPEN, timeout=30_000)
    assert any('data-notifications-template="bell"' in error for error in errors), errors
    assert any('data-notifications-template="toast"' in error for error in errors), errors
    page.wait_for_function("window.notifications.unreadCount === 1")
    page.evaluate(f"window.notifications.markRead({n.pk})")
    page.wait_for_function("window.notifications.unreadCount === 0")


def test_a_relayed_change_falls_back_to_http_when_the_leaders_socket_just_dropped(
    login: Any, alice: Any
) -> None:
    n = notify(alice, "x", title="relayed")[0]
    context = login(alice)
    tabs = [open_page(context), open_page(context)]
    leader = next(tab for tab in tabs if tab.evaluate("window.notifications.isLeader"))
    follower = next(tab for tab in tabs if tab is not leader)
    # The follower still believes the socket is open; the leader's send finds it gone.
    leader.evaluate("window.notifications.client.connection.send = () => false")
    follower.evaluate(f"window.notifications.markRead({n.pk})")
    wait_until(lambda: Notification.objects.get(pk=n.pk).read_at is not None, leader)
    wait_badge(follower, "")
    wait_badge(leader, "")
