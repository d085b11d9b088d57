"""The preferences page (/notifications/preferences/, no JavaScript needed) and its JSON API
(/notifications/api/preferences/: GET, PUT with session + CSRF)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from notifications import preferences
from notifications.models import Preference

API = "/notifications/api/preferences/"
PAGE = "/notifications/preferences/"
CATEGORIES = {
    "comments": {"label": "Comments", "in_app": True, "push": True, "email": False},
    "mentions": {"label": "Mentions <b>", "in_app": True, "push": False, "email": True},
}


@pytest.fixture(autouse=True)
def categories(settings: Any) -> None:
    settings.NOTIFICATIONS = {"CATEGORIES": CATEGORIES}


@pytest.fixture
def client_a(alice: Any) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def csrf_client(alice: Any) -> tuple[Client, str]:
    """A client that enforces CSRF, signed in as alice, with its CSRF token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get(PAGE)
    return client, client.cookies["csrftoken"].value


def put(client: Client, body: Any, **extra: Any) -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.put(API, data, content_type="application/json", **extra)


def test_urls() -> None:
    assert reverse("notifications:api-preferences") == API
    assert reverse("notifications:preferences") == PAGE


# JSON


def test_get_shows_every_declared_category_with_its_label(client_a: Client) -> None:
    response = client_a.get(API)
    assert response.status_code == 200
    assert response.json() == {
        "categories": {
            "comments": {"label": "Comments", "in_app": True, "push": True, "email": False},
            "mentions": {"label": "Mentions <b>", "in_app": True, "push": False, "email": True},
        },
        "channels": {"in_app": True, "push": True, "email": True},
    }


def test_put_changes_only_what_it_sends_and_answers_the_whole(
    csrf_client: tuple[Client, str], alice: Any
) -> None:
    client, token = csrf_client
    response = put(
        client, {"categories": {"comments": {"email": True}}}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["categories"]["comments"] == {
        "label": "Comments",
        "in_app": True,
        "push": True,
        "email": True,
    }
    assert body["categories"]["mentions"]["push"] is False
    assert preferences.wanted([alice.pk], "comments", "email") == {alice.pk}
    # A whole GET body sent back, labels included, is accepted; the label does not change.
    sent_back = client.get(API).json()
    sent_back["categories"]["mentions"]["label"] = "Changed"
    sent_back["channels"]["push"] = False
    response = put(client, sent_back, headers={"X-CSRFToken": token})
    assert response.json()["categories"]["mentions"]["label"] == "Mentions <b>"
    assert response.json()["channels"]["push"] is False


def test_put_needs_the_csrf_token(csrf_client: tuple[Client, str], alice: Any) -> None:
    client, _ = csrf_client
    response = put(client, {"channels": {"email": False}})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert not Preference.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        ({"categories": {"nope": {"email": True}}}, "Unknown category 'nope'"),
        ({"categories": {"comments": {"email": "off"}}}, "must be true or false"),
        ({"channels": {"fax": False}}, "unknown channel 'fax'"),
        # Too deep for json on some Pythons (not JSON), a list on others (not an object).
        ("[" * 5000 + "]" * 5000, ""),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_bad_input_is_a_400_with_a_message(client_a: Client, body: Any, message: str) -> None:
    response = put(client_a, body)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert message in response.json()["error"]["message"]
    assert not Preference.objects.exists()


def test_signed_out_is_a_401_and_other_methods_a_405(db: None, client_a: Client) -> None:
    assert Client().get(API).status_code == 401
    response = client_a.post(API, "{}", content_type="application/json")
    assert response.status_code == 405 and response["Allow"] == "GET, PUT"


def test_each_user_sees_and_changes_only_their_own(client_a: Client, alice: Any, bob: Any) -> None:
    preferences.update(bob, {"channels": {"in_app": False}})
    assert client_a.get(API).json()["channels"]["in_app"] is True
    put(client_a, {"channels": {"email": False}})
    assert preferences.as_dict(bob)["channels"] == {"in_app": False, "push": True, "email": True}


# The HTML page


def test_the_page_lists_categories_and_the_configured_channels(
    client_a: Client, alice: Any
) -> None:
    preferences.update(alice, {"categories": {"comments": {"email": True}}})
    response = client_a.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Mentions &lt;b&gt;" in html  # labels are escaped
    assert 'name="email:comments" aria-label="Comments: Email" checked' in html
    assert 'name="email:mentions" aria-label="Mentions &lt;b&gt;: Email" checked' in html
    assert 'name="in_app:*"' in html
    # No "Desktop" column without a push backend: that box would do nothing.
    assert "push:" not in html


def test_posting_the_form_saves_every_box_and_redirects_with_a_message(
    csrf_client: tuple[Client, str], alice: Any
) -> None:
    client, token = csrf_client
    response = client.post(
        PAGE,
        {"csrfmiddlewaretoken": token, "in_app:comments": "on", "email:comments": "on"},
        follow=True,
    )
    assert response.redirect_chain == [(PAGE, 302)]
    assert "Your notification preferences are saved." in response.content.decode()
    state = preferences.as_dict(alice)
    assert state["categories"]["comments"] == {
        "label": "Comments",
        "in_app": True,
        "push": True,  # not on the page: unchanged
        "email": True,
    }
    assert state["categories"]["mentions"]["in_app"] is False  # unchecked: off
    assert state["channels"] == {"in_app": False, "push": True, "email": False}


def test_the_form_needs_csrf_and_a_signed_in_user(csrf_client: tuple[Client, str]) -> None:
    client, _ = csrf_client
    assert client.post(PAGE, {"in_app:comments": "on"}).status_code == 403
    assert not Preference.objects.exists()
    response = Client().get(PAGE)
    assert response.status_code == 302 and "login" in response["Location"]


def test_reachable_from_the_list_page_and_the_bell(client_a: Client, alice: Any) -> None:
    link = f'href="{PAGE}"'
    assert link in client_a.get(reverse("notifications:list")).content.decode()
    assert link in client_a.get("/").content.decode()  # the demo's layout has the bell
