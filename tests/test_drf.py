"""notifications.contrib.rest_framework, driven with DRF's APIClient."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

pytest.importorskip("rest_framework")

from django.test import TestCase, override_settings
from django.utils import timezone
from rest_framework.permissions import IsAdminUser
from rest_framework.test import APIClient

from notifications import api, notify, protocol
from notifications.contrib.rest_framework import NotificationViewSet
from notifications.models import Notification
from tests.conftest import counts_are_exact

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.drf_urls")]

BASE = "/drf/notifications/"


def make(user: Any, n: int, **fields: Any) -> list[int]:
    return [notify(user, "x", title=f"n{i}", **fields)[0].pk for i in range(n)]


@pytest.fixture
def client_a(alice: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(alice)
    return client


def test_list_by_seq_cursor_with_counts(client_a: APIClient, alice: Any, bob: Any) -> None:
    ids = make(alice, 5)
    make(bob, 2)
    first = client_a.get(BASE, {"limit": 2}).json()
    assert [n["id"] for n in first["results"]] == [ids[4], ids[3]]
    assert first["results"][0] == protocol.notification_payload(Notification.objects.get(pk=ids[4]))
    assert (first["next_before"], first["unread_count"], first["last_seq"]) == (4, 5, 5)
    second = client_a.get(BASE, {"limit": 2, "before": first["next_before"]}).json()
    assert [n["id"] for n in second["results"]] == [ids[2], ids[1]]
    oldest = client_a.get(BASE, {"limit": 2, "after": 0}).json()
    assert [n["id"] for n in oldest["results"]] == [ids[0], ids[1]] and oldest["next_after"] == 2


def test_filters_unread_category_archived_snoozed(client_a: APIClient, alice: Any) -> None:
    comments = make(alice, 2, category="comments")
    other = make(alice, 2)
    api.mark_read(alice, comments[:1])
    api.archive(alice, other[:1])
    api.snooze(alice, other[1:], timezone.now() + timedelta(hours=1))

    def listed(**params: str) -> list[int]:
        return [n["id"] for n in client_a.get(BASE, params).json()["results"]]

    assert listed() == comments[::-1]
    assert listed(unread="1") == comments[1:]
    assert listed(category="comments", unread="1") == comments[1:]
    assert listed(category="none") == []
    assert listed(archived="1") == other[:1]
    assert listed(snoozed="1") == other[1:]


def test_counts_and_the_state_changes(client_a: APIClient, alice: Any, sent: Any) -> None:
    ids = make(alice, 4)
    assert client_a.get(f"{BASE}counts/").json() == {
        "unread_count": 4,
        "unseen_count": 4,
        "last_seq": 4,
    }
    with TestCase.captureOnCommitCallbacks(execute=True):
        answer = client_a.post(f"{BASE}mark-seen/", {"ids": ids[:1]}, format="json").json()
    assert answer == {"ids": ids[:1], "unread_count": 4, "unseen_count": 3, "last_seq": 4}
    assert sent, "the user's sockets hear it, as through the JSON API"
    assert (
        client_a.post(f"{BASE}mark-read/", {"ids": ids[:2]}, format="json").json()["ids"]
        == (ids[:2])
    )
    answer = client_a.post(f"{BASE}mark-unread/", {"ids": ids[:1]}, format="json").json()
    assert answer["unread_count"] == 3
    answer = client_a.post(f"{BASE}archive/", {"ids": ids[3:]}, format="json").json()
    assert answer["unread_count"] == 2
    answer = client_a.post(f"{BASE}unarchive/", {"ids": ids[3:]}, format="json").json()
    assert answer["unread_count"] == 3
    answer = client_a.post(
        f"{BASE}snooze/",
        {"ids": ids[2:3], "preset": "tomorrow", "tz": "Europe/Paris"},
        format="json",
    ).json()
    assert answer["ids"] == ids[2:3] and answer["unread_count"] == 2 and answer["until"]
    until = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    answer = client_a.post(
        f"{BASE}snooze/", {"ids": ids[3:], "until": until.isoformat()}, format="json"
    ).json()
    assert Notification.objects.get(pk=ids[3]).snoozed_until == until
    assert client_a.post(f"{BASE}mark-all-read/").json()["ids"] == ids[:1]
    assert (
        client_a.post(f"{BASE}delete/", {"ids": ids[:1]}, format="json").json()["ids"] == (ids[:1])
    )
    assert client_a.get(f"{BASE}{ids[1]}/").json()["id"] == ids[1]
    assert client_a.delete(f"{BASE}{ids[1]}/").status_code == 204
    assert sorted(Notification.objects.values_list("pk", flat=True)) == ids[2:]
    counts_are_exact()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ids": []},
        {"ids": ["x"]},
        {"ids": [0]},
    ],
)
def test_bad_ids_are_a_400(client_a: APIClient, alice: Any, body: dict[str, Any]) -> None:
    make(alice, 1)
    assert client_a.post(f"{BASE}archive/", body, format="json").status_code == 400
    assert Notification.objects.get().archived_at is None


@pytest.mark.parametrize(
    "body",
    [
        {"preset": "someday"},
        {"preset": "1h", "until": "2030-01-01T00:00:00Z"},
        {"preset": "1h", "tz": "Not/AZone"},
        {"until": "2001-01-01T00:00:00Z"},
        {},
    ],
)
def test_bad_snooze_is_a_400(client_a: APIClient, alice: Any, body: dict[str, Any]) -> None:
    ids = make(alice, 1)
    response = client_a.post(f"{BASE}snooze/", {"ids": ids, **body}, format="json")
    assert response.status_code == 400, response.content
    assert Notification.objects.get().snoozed_until is None


def test_bad_cursors_are_a_400(client_a: APIClient) -> None:
    for params in ({"before": "x"}, {"before": 1, "after": 1}, {"limit": 10_000}):
        assert client_a.get(BASE, params).status_code == 400


@pytest.mark.parametrize(
    "path", ["mark-read/", "mark-unread/", "mark-seen/", "archive/", "unarchive/", "delete/"]
)
def test_another_users_ids_are_a_404(client_a: APIClient, alice: Any, bob: Any, path: str) -> None:
    mine, theirs = make(alice, 1), make(bob, 1)
    response = client_a.post(f"{BASE}{path}", {"ids": mine + theirs}, format="json")
    assert response.status_code == 404
    assert Notification.objects.count() == 2
    assert Notification.objects.filter(read_at=None, seen_at=None, archived_at=None).count() == 2


def test_another_users_notification_is_a_404(client_a: APIClient, bob: Any) -> None:
    [theirs] = make(bob, 1)
    assert client_a.get(f"{BASE}{theirs}/").status_code == 404
    assert client_a.delete(f"{BASE}{theirs}/").status_code == 404
    response = client_a.post(f"{BASE}snooze/", {"ids": [theirs], "preset": "1h"}, format="json")
    assert response.status_code == 404
    assert Notification.objects.get().snoozed_until is None
    assert client_a.get(BASE).json()["results"] == []


def test_anonymous_is_refused(alice: Any) -> None:
    ids = make(alice, 1)
    client = APIClient()
    assert client.get(BASE).status_code in (401, 403)
    assert client.post(f"{BASE}archive/", {"ids": ids}, format="json").status_code in (401, 403)
    assert Notification.objects.get().archived_at is None


def test_session_users_need_csrf(alice: Any) -> None:
    ids = make(alice, 1)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get(BASE).status_code == 200
    assert client.post(f"{BASE}archive/", {"ids": ids}, format="json").status_code == 403
    assert Notification.objects.get().archived_at is None


def test_a_user_without_the_permission_is_refused(
    alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A project that tightens the permissions (here: staff only) refuses everyone else.
    monkeypatch.setattr(NotificationViewSet, "permission_classes", [IsAdminUser])
    ids = make(alice, 1)
    client = APIClient()
    client.force_authenticate(alice)
    assert client.get(BASE).status_code == 403
    assert client.post(f"{BASE}archive/", {"ids": ids}, format="json").status_code == 403
    assert Notification.objects.get().archived_at is None


@override_settings(
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.BasicAuthentication"]
    }
)
def test_the_projects_authentication_is_used(alice: Any) -> None:
    alice.set_password("pw")
    alice.save()
    make(alice, 1)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic YWxpY2U6cHc=")  # alice:pw
    assert client.get(f"{BASE}counts/").json()["unread_count"] == 1
