"""The Web Push HTTP endpoints: the service worker script, subscriptions (POST/DELETE), push-read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from notifications import api, notify
from notifications.models import PushSubscription
from notifications.webpush import payload
from tests.push_service import Browser, b64url
from tests.test_webpush import VAPID

pytestmark = [pytest.mark.django_db]

URL = "/notifications/api/push-subscriptions/"
READ_URL = "/notifications/api/push-read/"


@pytest.fixture(autouse=True)
def web_push(settings: Any) -> None:
    settings.NOTIFICATIONS = {"WEB_PUSH": {**VAPID, "SUBJECT": "mailto:ops@example.com"}}


def signed_in(user: Any, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def send(client: Client, method: str, body: Any, **extra: Any) -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return getattr(client, method)(URL, data, content_type="application/json", **extra)


def browser(endpoint: str = "https://push.example.com/send/abc") -> Browser:
    return Browser(endpoint=endpoint)


def assert_error(response: Any, status: int, fragment: str = "") -> None:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["message"] and fragment in error["message"]


def test_service_worker_is_served_as_javascript_never_cached(client: Client) -> None:
    response = client.get("/notifications/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    assert response["X-Content-Type-Options"] == "nosniff"
    source = response.content.decode()
    assert 'addEventListener("push"' in source and 'addEventListener("notificationclick"' in source
    assert client.post("/notifications/sw.js").status_code == 405


def test_register_answers_201_then_200(alice: Any) -> None:
    client, b = signed_in(alice), browser()
    first = send(client, "post", b.to_json(), HTTP_USER_AGENT="Mozilla/5.0 Firefox/131.0")
    assert first.status_code == 201
    assert first.json()["browser"] == "Firefox"
    assert send(client, "post", b.to_json()).status_code == 200
    subscription = PushSubscription.objects.get()
    assert (subscription.user_id, subscription.endpoint) == (alice.pk, b.endpoint)
    assert (subscription.p256dh, subscription.auth) == (b.p256dh, b64url(b.auth))


def test_a_known_endpoint_registered_by_another_user_moves_to_them(alice: Any, bob: Any) -> None:
    b = browser()
    assert send(signed_in(alice), "post", b.to_json()).status_code == 201
    assert send(signed_in(bob), "post", b.to_json()).status_code == 200
    assert list(PushSubscription.objects.values_list("user_id", flat=True)) == [bob.pk]


def test_registering_needs_a_session_and_a_csrf_token(alice: Any) -> None:
    b = browser()
    assert_error(send(Client(), "post", b.to_json()), 401)
    client = signed_in(alice, csrf=True)
    response = send(client, "post", b.to_json())
    assert response.status_code == 403 and response.json()["error"]["code"] == "csrf_failed"
    client.get("/notifications/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    assert send(client, "post", b.to_json(), HTTP_X_CSRFTOKEN=token).status_code == 201
    response = send(client, "delete", {"endpoint": b.endpoint})
    assert response.status_code == 403  # DELETE needs the token too
    assert (
        send(client, "delete", {"endpoint": b.endpoint}, HTTP_X_CSRFTOKEN=token).status_code == 204
    )
    assert not PushSubscription.objects.exists()


def test_delete_removes_only_your_own_subscription(alice: Any, bob: Any) -> None:
    b = browser()
    send(signed_in(alice), "post", b.to_json())
    assert send(signed_in(bob), "delete", {"endpoint": b.endpoint}).status_code == 204
    assert PushSubscription.objects.filter(user=alice).exists()
    assert send(signed_in(alice), "delete", {"endpoint": b.endpoint}).status_code == 204
    assert not PushSubscription.objects.exists()


def test_other_methods_are_refused(alice: Any) -> None:
    response = signed_in(alice).get(URL)
    assert response.status_code == 405 and response["Allow"] == "POST, DELETE"


GOOD = browser().to_json()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("not json", "not valid JSON"),
        ([1, 2], "JSON object"),
        ({}, '"endpoint"'),
        ({**GOOD, "endpoint": 42}, '"endpoint"'),
        ({**GOOD, "endpoint": "http://push.example.com/x"}, "https://"),
        ({**GOOD, "endpoint": "http://127.0.0.1:9/x"}, "https://"),  # loopback, DEBUG off
        ({**GOOD, "endpoint": "ftp://push.example.com/x"}, "https://"),
        ({**GOOD, "endpoint": "https://"}, "host"),
        ({**GOOD, "endpoint": "https://user:pw@push.example.com/x"}, "no user"),
        ({**GOOD, "endpoint": "https://push.example.com/a b"}, "whitespace"),
        ({**GOOD, "endpoint": "https://push.example.com:99999/x"}, "valid URL"),
        ({**GOOD, "endpoint": "https://push.example.com/" + "x" * 1100}, "longer"),
        ({"endpoint": GOOD["endpoint"]}, '"keys"'),
        ({**GOOD, "keys": {"auth": GOOD["keys"]["auth"]}}, "keys.p256dh"),
        ({**GOOD, "keys": {**GOOD["keys"], "p256dh": "not base64!"}}, "base64url"),
        ({**GOOD, "keys": {**GOOD["keys"], "p256dh": b64url(b"\x04" + b"\x01" * 30)}}, "65 bytes"),
        ({**GOOD, "keys": {**GOOD["keys"], "p256dh": b64url(b"\x04" + b"\x01" * 64)}}, "P-256"),
        ({**GOOD, "keys": {**GOOD["keys"], "auth": b64url(b"x" * 8)}}, "16 bytes"),
        ({**GOOD, "keys": {**GOOD["keys"], "auth": None}}, "keys.auth"),
    ],
)
def test_bad_subscriptions_get_400_with_a_message(alice: Any, body: Any, fragment: str) -> None:
    assert_error(send(signed_in(alice), "post", body), 400, fragment)
    assert not PushSubscription.objects.exists()


def test_a_loopback_http_endpoint_is_accepted_only_with_debug(alice: Any, settings: Any) -> None:
    b = browser("http://127.0.0.1:8123/push/alice")
    assert_error(send(signed_in(alice), "post", b.to_json()), 400, "https://")
    settings.DEBUG = True
    assert send(signed_in(alice), "post", b.to_json()).status_code == 201
    other = browser("http://192.168.1.5/push/alice")
    assert_error(send(signed_in(alice), "post", other.to_json()), 400, "loopback")


def test_registering_while_push_is_off_says_so(alice: Any, settings: Any) -> None:
    settings.NOTIFICATIONS = {}
    response = send(signed_in(alice), "post", browser().to_json())
    assert response.status_code == 404 and response.json()["error"]["code"] == "push_disabled"


# Marking read from a click on a push: the token in the payload replaces the CSRF token.


def read(client: Client, body: Any) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(READ_URL, data, content_type="application/json")


def test_a_click_marks_its_notification_read_with_the_token(alice: Any) -> None:
    first, second = notify(alice, "one")[0], notify(alice, "two")[0]
    data = payload(first)
    client = signed_in(alice, csrf=True)  # no CSRF token is sent: the push's token stands in
    response = read(client, {"id": data["id"], "token": data["read_token"]})
    assert response.status_code == 200
    assert response.json() == {"ids": [first.pk], "unread_count": 1, "last_seq": 2}
    assert api.unread_count(alice) == 1 and second.pk not in response.json()["ids"]


def test_the_token_is_bound_to_its_notification_and_user(alice: Any, bob: Any) -> None:
    mine, other = notify(alice, "one")[0], notify(alice, "two")[0]
    token = payload(mine)["read_token"]
    assert_error(read(signed_in(alice), {"id": other.pk, "token": token}), 403, "another")
    assert_error(read(signed_in(bob), {"id": mine.pk, "token": token}), 403, "another")
    assert_error(read(signed_in(alice), {"id": mine.pk, "token": token + "x"}), 403, "not valid")
    assert_error(read(Client(), {"id": mine.pk, "token": token}), 401)
    assert api.unread_count(alice) == 2


@pytest.mark.parametrize("body", ["nope", {"id": "1", "token": "x"}, {"token": "x"}, [1]])
def test_push_read_refuses_bad_bodies(alice: Any, body: Any) -> None:
    assert_error(read(signed_in(alice), body), 400)


def test_push_read_of_a_deleted_notification_is_404(alice: Any) -> None:
    n = notify(alice, "one")[0]
    token = payload(n)["read_token"]
    api.delete(alice, [n.pk])
    assert_error(read(signed_in(alice), {"id": n.pk, "token": token}), 404)


def test_push_read_only_takes_post(alice: Any) -> None:
    response = signed_in(alice).get(READ_URL)
    assert response.status_code == 405 and response["Allow"] == "POST"
