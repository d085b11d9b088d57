"""Web Push in real Chromium against daphne: subscribing from the bell, and the service worker showing a
push delivered through the DevTools protocol, then handling a click on it.

What is stubbed, and why: headless Chromium cannot reach a real push service (no network, no GCM), so
``PushManager.subscribe`` / ``getSubscription`` are replaced by an init script that returns a
subscription with keys made here; everything else is real (permission, service worker registration,
the page's POST with its CSRF token, the server's validation). The push itself is delivered with CDP's
``ServiceWorker.deliverPushMessage`` (the decrypted payload: push services and encryption are covered by
tests/test_webpush.py). A click on a notification cannot be made through CDP; the test calls the
worker's own click handler (``self.notificationsHandleClick``) with the shown notification, which runs
without the user activation a real click brings, so it checks the path that tells the open tab where to
go (``focus()`` and ``openWindow()`` need that activation).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from notifications import notify
from notifications.models import Notification, PushSubscription
from notifications.webpush import encode_payload, payload
from tests.conftest import make_user
from tests.e2e.conftest import Daphne
from tests.e2e.test_browser import open_page
from tests.push_service import Browser
from tests.test_webpush import VAPID

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

WEB_PUSH = {**VAPID, "SUBJECT": "mailto:ops@example.com"}
SW_URL = "/notifications/sw.js"

STUB_PUSH_MANAGER = """
(() => {
  const fake = %s;
  window.__subscribed = null;
  PushManager.prototype.getSubscription = async function () {
    return window.__subscribed;
  };
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    window.__subscribeOptions = {
      userVisibleOnly: options.userVisibleOnly,
      key: btoa(String.fromCharCode(...key)).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, ""),
    };
    window.__subscribed = {
      endpoint: fake.endpoint,
      toJSON: () => fake,
      unsubscribe: async () => true,
    };
    return window.__subscribed;
  };
})();
"""


@pytest.fixture
def server_settings() -> dict[str, Any]:
    """The e2e daphne (tests/e2e/conftest.py) with VAPID keys: Web Push on."""
    return {"WEB_PUSH": WEB_PUSH}


def wait_until(check: Callable[[], bool], page: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(50)


def test_enable_desktop_notifications_subscribes_this_browser(login: Any) -> None:
    alice = make_user("alice")
    fake = Browser(endpoint="https://push.example.com/send/alice-chromium")
    context = login(alice, permissions=["notifications"])
    context.add_init_script(STUB_PUSH_MANAGER % json.dumps(fake.to_json()))
    page = open_page(context)
    assert not PushSubscription.objects.exists()  # never on load
    page.click("[data-notifications-toggle]")
    button = page.locator("[data-notifications-enable-push]")
    button.wait_for(state="visible")
    assert button.text_content() == "Enable desktop notifications"
    button.click()
    wait_until(lambda: PushSubscription.objects.exists(), page)
    subscription = PushSubscription.objects.get()
    assert (subscription.user_id, subscription.endpoint) == (alice.pk, fake.endpoint)
    assert (subscription.p256dh, subscription.browser) == (fake.p256dh, "Chrome")
    options = page.evaluate("window.__subscribeOptions")
    assert options == {"userVisibleOnly": True, "key": VAPID["VAPID_PUBLIC_KEY"]}
    button.wait_for(state="hidden")
    scope = page.evaluate(
        f"navigator.serviceWorker.getRegistration('{SW_URL}').then((r) => r && r.scope)"
    )
    assert scope.endswith("/notifications/")
    assert page.errors == []


SHOWN = """async () => {
  const reg = await navigator.serviceWorker.getRegistration("/notifications/sw.js");
  const shown = reg ? await reg.getNotifications() : [];
  return shown.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }));
}"""
# push.js's own registration(): resolves once the worker is active.
REGISTER = "import('/static/notifications/js/push.js').then((push) => push.registration())"


def test_a_push_is_shown_and_a_click_opens_its_url_and_marks_it_read(
    login: Any, server: Daphne
) -> None:
    alice = make_user("alice")
    context = login(alice, permissions=["notifications"])
    page = open_page(context)
    cdp = context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    page.evaluate(f"{REGISTER}.then(() => true)")
    wait_until(
        lambda: any(
            r["scopeURL"].endswith("/notifications/") and not r["isDeleted"] for r in registrations
        ),
        page,
    )
    registration_id = next(
        r["registrationId"] for r in registrations if r["scopeURL"].endswith("/notifications/")
    )

    (n,) = notify(
        alice, "commented", title="Bob commented", body="Nice post", url="/notifications/?from=push"
    )
    data = encode_payload(payload(n))
    first = encode_payload({**payload(n), "body": "first delivery"})
    for body in (first, data):  # a repeat (same tag) replaces the shown notification
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": server.url, "registrationId": registration_id, "data": body},
        )
    wait_until(lambda: [x["body"] for x in page.evaluate(SHOWN)] == ["Nice post"], page)
    [shown] = page.evaluate(SHOWN)
    assert (shown["title"], shown["body"], shown["tag"]) == (
        "Bob commented",
        "Nice post",
        f"notification-{n.pk}",
    )
    assert shown["data"]["url"] == f"{server.url}/notifications/?from=push"

    [worker] = [w for w in context.service_workers if w.url.endswith(SW_URL)]
    worker.evaluate(
        "async () => { const [n] = await self.registration.getNotifications(); await self.notificationsHandleClick(n); }"
    )
    page.wait_for_url("**/notifications/?from=push", timeout=15_000)
    wait_until(lambda: Notification.objects.get(pk=n.pk).read_at is not None, page)
    assert page.evaluate(SHOWN) == []  # the click closed it
