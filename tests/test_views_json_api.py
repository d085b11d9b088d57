"""The JSON HTTP API under /notifications/api/: scoped to the signed-in user, POST + CSRF for changes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.test import AsyncClient, Client
from django.urls import reverse

from notifications import api, delivery, notify, protocol
from notifications.models import Notification

LIST = "/notifications/api/"
COUNT = "/notifications/api/unread-count/"
MARK_READ = "/notifications/api/mark-read/"
MARK_ALL_READ = "/notifications/api/mark-all-read/"
DELETE = "/notifications/api/delete/"
POSTS = [MARK_READ, MARK_ALL_READ, DELETE]
GETS = [LIST, COUNT]


def make(user: Any, n: int) -> list[int]:
    return [notify(user, f"n{i}", title=f"{user.username} {i}")[0].pk for i in range(n)]


def post_json(client: Client, url: str, body: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    error: dict[str, Any] = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    return error


def test_urls_are_named_and_mounted() -> None:
    assert reverse("notifications:api-list") == LIST
    assert reverse("notifications:api-unread-count") == COUNT
    assert reverse("notifications:api-mark-read") == MARK_READ
    assert reverse("notifications:api-mark-all-read") == MARK_ALL_READ
    assert reverse("notifications:api-delete") == DELETE


# List


def test_list_newest_first_with_state(client_a: Client, alice: Any) -> None:
    make(alice, 3)
    data = client_a.get(LIST).json()
    assert [n["seq"] for n in data["results"]] == [3, 2, 1]
    assert data["unread_count"] == 3 and data["last_seq"] == 3
    assert data["next_before"] is None and data["next_after"] is None
    first = data["results"][0]
    assert first["title"] == "alice 2" and first["read"] is False
    assert set(first) >= {"id", "seq", "verb", "created_at", "actor", "target"}


def test_list_shows_only_the_signed_in_users_notifications(
    client_a: Client, alice: Any, bob: Any
) -> None:
    make(bob, 3)
    mine = make(alice, 1)
    data = client_a.get(LIST).json()
    assert [n["id"] for n in data["results"]] == mine
    assert data["unread_count"] == 1


def test_list_is_empty_for_a_new_user(client_a: Client) -> None:
    assert client_a.get(LIST).json() == {
        "results": [],
        "next_before": None,
        "next_after": None,
        "unread_count": 0,
        "unseen_count": 0,
        "last_seq": 0,
    }


def test_paging_backwards_with_before_visits_every_seq_once(client_a: Client, alice: Any) -> None:
    make(alice, 7)
    seen: list[int] = []
    url = f"{LIST}?limit=3"
    pages = 0
    while True:
        data = client_a.get(url).json()
        pages += 1
        seen += [n["seq"] for n in data["results"]]
        if data["next_before"] is None:
            break
        assert data["next_before"] == seen[-1]
        url = f"{LIST}?limit=3&before={data['next_before']}"
    assert seen == [7, 6, 5, 4, 3, 2, 1]
    assert pages == 3


def test_paging_forwards_with_after(client_a: Client, alice: Any) -> None:
    make(alice, 5)
    data = client_a.get(f"{LIST}?after=1&limit=2").json()
    assert [n["seq"] for n in data["results"]] == [2, 3]
    assert data["next_after"] == 3 and data["next_before"] is None
    data = client_a.get(f"{LIST}?after=3&limit=2").json()
    assert [n["seq"] for n in data["results"]] == [4, 5]
    assert data["next_after"] is None
    assert client_a.get(f"{LIST}?after=5").json()["results"] == []


def test_exact_page_size_has_no_next_cursor(client_a: Client, alice: Any) -> None:
    make(alice, 3)
    assert client_a.get(f"{LIST}?limit=3").json()["next_before"] is None


def test_default_page_size_comes_from_settings(client_a: Client, alice: Any, settings: Any) -> None:
    settings.NOTIFICATIONS = {"PAGE_SIZE": 2, "MAX_PAGE_SIZE": 4}
    make(alice, 5)
    assert len(client_a.get(LIST).json()["results"]) == 2
    assert len(client_a.get(f"{LIST}?limit=4").json()["results"]) == 4
    assert_error(client_a.get(f"{LIST}?limit=5"), 400, "invalid")


@pytest.mark.parametrize("flag", ["1", "true"])
def test_unread_filter(client_a: Client, alice: Any, flag: str) -> None:
    ids = make(alice, 4)
    api.mark_read(alice, [ids[1], ids[3]])
    data = client_a.get(f"{LIST}?unread={flag}").json()
    assert [n["id"] for n in data["results"]] == [ids[2], ids[0]]
    assert all(n["read"] is False for n in data["results"])
    assert len(client_a.get(f"{LIST}?unread=0").json()["results"]) == 4


def test_unread_filter_pages_by_seq(client_a: Client, alice: Any) -> None:
    ids = make(alice, 6)
    api.mark_read(alice, ids[1::2])  # seqs 2, 4, 6 read
    data = client_a.get(f"{LIST}?unread=1&limit=2").json()
    assert [n["seq"] for n in data["results"]] == [5, 3]
    data = client_a.get(f"{LIST}?unread=1&limit=2&before={data['next_before']}").json()
    assert [n["seq"] for n in data["results"]] == [1]


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=abc",
        "limit=1.5",
        "limit=%C2%B2",  # superscript two: str.isdigit() is true, int() refuses it
        "limit=%D9%A3",  # Arabic-Indic three
        "limit=" + "9" * 5000,
        "before=x",
        "before=-1",
        "before=1e3",
        "before=" + "9" * 30,
        "after=%C2%B2",
        "before=1&after=2",
    ],
)
def test_bad_list_parameters_answer_400(client_a: Client, alice: Any, query: str) -> None:
    make(alice, 1)
    assert_error(client_a.get(f"{LIST}?{query}"), 400, "invalid")


def test_list_runs_a_bounded_number_of_queries(
    client_a: Client, alice: Any, bob: Any, django_assert_max_num_queries: Any
) -> None:
    from django.contrib.contenttypes.models import ContentType

    for i in range(30):
        notify(alice, "x", actor=bob, target=bob, title=str(i))
    ContentType.objects.clear_cache()
    client_a.get(LIST)  # session, user
    with django_assert_max_num_queries(6):
        assert len(client_a.get(f"{LIST}?limit=30").json()["results"]) == 30


# Unread count


def test_unread_count(client_a: Client, alice: Any, bob: Any) -> None:
    ids = make(alice, 3)
    make(bob, 5)
    api.mark_read(alice, ids[:1])
    assert client_a.get(COUNT).json() == {"unread_count": 2, "unseen_count": 2, "last_seq": 3}


# Changes


def test_mark_read_with_a_json_body(client_a: Client, alice: Any) -> None:
    ids = make(alice, 3)
    response = post_json(client_a, MARK_READ, {"ids": ids[:2]})
    assert response.status_code == 200
    assert response.json() == {
        "ids": ids[:2],
        "unread_count": 1,
        "unseen_count": 1,
        "last_seq": 3,
    }
    assert set(Notification.objects.filter(read_at__isnull=False).values_list("pk", flat=True)) == (
        set(ids[:2])
    )
    # Again: nothing changes, nothing is counted twice.
    assert post_json(client_a, MARK_READ, {"ids": ids[:2]}).json()["ids"] == []
    assert api.unread_count(alice) == 1


def test_mark_read_with_form_fields(client_a: Client, alice: Any) -> None:
    ids = make(alice, 3)
    response = client_a.post(MARK_READ, {"ids": [str(ids[0]), str(ids[2])]})
    assert response.status_code == 200
    assert response.json()["ids"] == [ids[0], ids[2]]
    assert api.unread_count(alice) == 1


def test_mark_all_read(client_a: Client, alice: Any, bob: Any) -> None:
    ids = make(alice, 3)
    make(bob, 2)
    api.mark_read(alice, ids[:1])
    response = client_a.post(MARK_ALL_READ)
    assert response.json() == {
        "ids": ids[1:],
        "unread_count": 0,
        "unseen_count": 0,
        "last_seq": 3,
    }
    assert api.unread_count(bob) == 2


def test_delete(client_a: Client, alice: Any) -> None:
    ids = make(alice, 3)
    response = post_json(client_a, DELETE, {"ids": [ids[0]]})
    assert response.json() == {
        "ids": [ids[0]],
        "unread_count": 2,
        "unseen_count": 2,
        "last_seq": 3,
    }
    assert not Notification.objects.filter(pk=ids[0]).exists()
    assert Notification.objects.count() == 2


@pytest.mark.parametrize("url", [MARK_READ, DELETE])
def test_another_users_id_answers_404_and_changes_nothing(
    client_a: Client, alice: Any, bob: Any, url: str
) -> None:
    mine = make(alice, 1)
    theirs = make(bob, 1)
    assert_error(post_json(client_a, url, {"ids": [mine[0], theirs[0]]}), 404, "not_found")
    assert_error(post_json(client_a, url, {"ids": theirs}), 404, "not_found")
    assert Notification.objects.count() == 2
    assert not Notification.objects.filter(read_at__isnull=False).exists()
    assert api.unread_count(alice) == 1 and api.unread_count(bob) == 1


def test_unknown_id_answers_404(client_a: Client, alice: Any) -> None:
    assert_error(post_json(client_a, MARK_READ, {"ids": [123456]}), 404, "not_found")


@pytest.mark.parametrize("url", [MARK_READ, DELETE])
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"not json", "application/json"),
        (b"\xff\xfe", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'"ids"', "application/json"),
        (b"{}", "application/json"),
        (b'{"ids": 1}', "application/json"),
        (b'{"ids": "1,2"}', "application/json"),
        (b'{"ids": {"1": 1}}', "application/json"),
        (b'{"ids": []}', "application/json"),
        (b'{"ids": [true]}', "application/json"),
        (b'{"ids": ["1"]}', "application/json"),
        (b'{"ids": [1.5]}', "application/json"),
        (b'{"ids": [-1]}', "application/json"),
        (b'{"ids": [0]}', "application/json"),
        (b'{"ids": [null]}', "application/json"),
        (b'{"ids": [99999999999999999999999]}', "application/json"),
        (b'{"ids": [NaN]}', "application/json"),
        (b"[" * 5000, "application/json"),
        (b"", "application/json"),
        (b"ids=abc", "application/x-www-form-urlencoded"),
        (b"ids=", "application/x-www-form-urlencoded"),
        (b"", "application/x-www-form-urlencoded"),
        (b"ids=%C2%B2", "application/x-www-form-urlencoded"),
        (b"ids=-5", "application/x-www-form-urlencoded"),
    ],
)
def test_bad_input_answers_400_json(
    client_a: Client, alice: Any, url: str, body: bytes, content_type: str
) -> None:
    make(alice, 1)
    assert_error(client_a.post(url, body, content_type=content_type), 400, "invalid")
    assert api.unread_count(alice) == 1 and Notification.objects.count() == 1


@pytest.mark.parametrize("url", [MARK_READ, DELETE])
def test_too_many_ids_answer_400(client_a: Client, alice: Any, settings: Any, url: str) -> None:
    settings.NOTIFICATIONS = {"MAX_IDS": 2}
    ids = make(alice, 3)
    assert_error(post_json(client_a, url, {"ids": ids}), 400, "invalid")
    assert api.unread_count(alice) == 3


def test_too_many_form_fields_answer_400_json(client_a: Client, alice: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    make(alice, 1)
    response = client_a.post(MARK_READ, {"ids": [str(i) for i in range(1, 20)]})
    assert_error(response, 400, "invalid")


def test_a_body_over_the_upload_limit_answers_400_json(
    client_a: Client, alice: Any, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    ids = make(alice, 1)
    body = json.dumps({"ids": ids, "padding": "x" * 2000})
    assert_error(client_a.post(MARK_READ, body, content_type="application/json"), 400, "invalid")
    assert api.unread_count(alice) == 1


def test_the_default_id_limit_is_500(client_a: Client, alice: Any) -> None:
    [pk] = make(alice, 1)
    assert_error(post_json(client_a, MARK_READ, {"ids": list(range(1, 502))}), 400, "invalid")
    ids = [pk, *range(pk + 1, pk + 500)]
    assert_error(post_json(client_a, MARK_READ, {"ids": ids}), 404, "not_found")


# Authentication, methods, CSRF


@pytest.mark.parametrize("url", GETS)
def test_anonymous_get_answers_401_json(db: None, url: str) -> None:
    assert_error(Client().get(url), 401, "not_authenticated")


@pytest.mark.parametrize("url", POSTS)
def test_anonymous_post_answers_401_json(alice: Any, url: str) -> None:
    ids = make(alice, 1)
    assert_error(post_json(Client(), url, {"ids": ids}), 401, "not_authenticated")
    assert Notification.objects.filter(read_at__isnull=True).count() == 1


@pytest.mark.parametrize("url", POSTS)
@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_post_endpoints_refuse_other_methods_with_405_json(
    client_a: Client, alice: Any, url: str, method: str
) -> None:
    ids = make(alice, 1)
    response = getattr(client_a, method)(url)
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST"
    assert api.unread_count(alice) == 1 and Notification.objects.filter(pk__in=ids).exists()


@pytest.mark.parametrize("url", GETS)
def test_get_endpoints_refuse_post_with_405_json(client_a: Client, url: str) -> None:
    response = client_a.post(url)
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET"


@pytest.mark.parametrize("url", POSTS)
def test_csrf_is_enforced_with_a_json_403(alice: Any, url: str) -> None:
    ids = make(alice, 1)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert_error(post_json(client, url, {"ids": ids}), 403, "csrf_failed")
    # A cookie alone is not enough either.
    client.cookies["csrftoken"] = "a" * 32
    assert_error(post_json(client, url, {"ids": ids}), 403, "csrf_failed")
    # A wrong token.
    response = client.post(
        url,
        json.dumps({"ids": ids}),
        content_type="application/json",
        headers={"X-CSRFToken": "b" * 32},
    )
    assert_error(response, 403, "csrf_failed")
    assert api.unread_count(alice) == 1 and Notification.objects.count() == 1


@pytest.mark.parametrize("url", POSTS)
def test_csrf_token_from_the_cookie_is_accepted(alice: Any, url: str) -> None:
    ids = make(alice, 1)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get("/accounts/login/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        url,
        json.dumps({"ids": ids}),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200, response.content
    assert api.unread_count(alice) == 0


def test_csrf_token_as_a_form_field(alice: Any) -> None:
    ids = make(alice, 1)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.cookies["csrftoken"] = "c" * 32
    response = client.post(MARK_READ, {"ids": ids, "csrfmiddlewaretoken": "c" * 32})
    assert response.status_code == 200, response.content
    assert api.unread_count(alice) == 0


def test_an_inactive_user_is_treated_as_anonymous(alice: Any) -> None:
    client = Client()
    client.force_login(alice)
    alice.is_active = False
    alice.save()
    assert_error(client.get(LIST), 401)


# Marking read over HTTP reaches the user's sockets


async def _listen(user: Any) -> tuple[Any, str]:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(protocol.user_group(user.pk), channel)
    return layer, channel


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
@pytest.mark.parametrize(
    ("url", "kind"), [(MARK_READ, "read"), (MARK_ALL_READ, "read"), (DELETE, "deleted")]
)
async def test_http_changes_send_a_frame_to_the_users_sockets(
    alice: Any, bob: Any, url: str, kind: str
) -> None:
    ids = [n.pk for n in await sync_to_async(lambda: [*notify(alice, "a"), *notify(alice, "b")])()]
    assert await sync_to_async(delivery.flush)()  # their pushes are out before we listen
    layer, mine = await _listen(alice)
    _, theirs = await _listen(bob)
    client = AsyncClient()
    await client.aforce_login(alice)
    response = await client.post(url, {"ids": ids[:1]})
    assert response.status_code == 200
    message = await layer.receive(mine)
    assert message["type"] == protocol.LAYER_FRAME
    if url == MARK_ALL_READ:
        assert json.loads(message["frame"]) == {
            "type": kind,
            "ids": ids,
            "unread_count": 0,
            "unseen_count": 0,
        }
    else:
        assert json.loads(message["frame"]) == {
            "type": kind,
            "ids": ids[:1],
            "unread_count": 1,
            "unseen_count": 1,
        }
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await layer.receive(theirs)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_mark_read_over_http_reaches_an_open_socket(alice: Any) -> None:
    from notifications.testing import connect, receive_frame
    from project.asgi import application

    [n] = await sync_to_async(notify)(alice, "x")
    communicator, welcome = await connect(application, alice)
    try:
        assert welcome["unread_count"] == 1
        client = AsyncClient()
        await client.aforce_login(alice)
        response = await client.post(
            MARK_READ, json.dumps({"ids": [n.pk]}), content_type="application/json"
        )
        assert response.status_code == 200
        frame = await receive_frame(communicator)
        while frame["type"] == "notification":  # catch-up of the existing one, if any
            frame = await receive_frame(communicator)
        assert frame == {"type": "read", "ids": [n.pk], "unread_count": 0, "unseen_count": 0}
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_a_refused_change_sends_nothing(alice: Any, bob: Any) -> None:
    [theirs] = await sync_to_async(notify)(bob, "x")
    layer, mine = await _listen(alice)
    client = AsyncClient()
    await client.aforce_login(alice)
    response = await client.post(
        MARK_READ, json.dumps({"ids": [theirs.pk]}), content_type="application/json"
    )
    assert response.status_code == 404
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await layer.receive(mine)
