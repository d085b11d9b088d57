"""Every answer of the JSON API is JSON: unknown URLs, bugs, and the database down (notifications/http_errors.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from notifications import logs
from notifications.views import json_api
from tests import servers

API = [
    ("get", "/notifications/api/"),
    ("get", "/notifications/api/unread-count/"),
    ("post", "/notifications/api/mark-read/"),
    ("post", "/notifications/api/mark-all-read/"),
    ("post", "/notifications/api/delete/"),
    ("post", "/notifications/api/mark-seen/"),
    ("post", "/notifications/api/archive/"),
    ("post", "/notifications/api/unarchive/"),
    ("post", "/notifications/api/snooze/"),
]


def assert_json_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code and error["message"]


@pytest.fixture
def database_down(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every new connection is refused, as by a database server that went away.

    The driver's own OperationalError, raised where Django connects: Django's real cursor path wraps
    it into django.db.OperationalError.
    """

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise connection.Database.OperationalError("connection refused (test)")

    connection.close()
    monkeypatch.setattr(connection, "get_new_connection", refuse)
    monkeypatch.setattr(logs, "_last", {})
    yield
    monkeypatch.undo()
    connection.close()


@pytest.fixture
def signed_in(transactional_db: None, alice: Any) -> Client:
    client = Client(enforce_csrf_checks=False)
    client.force_login(alice)
    return client


@pytest.mark.parametrize(("method", "url"), API)
def test_the_database_down_answers_a_json_503_and_one_warning_line(
    signed_in: Client,
    database_down: None,
    method: str,
    url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert_json_error(getattr(signed_in, method)(url), 503, "unavailable")
    [record] = caplog.records  # one per interval, not one per request
    assert record.levelname == "WARNING" and record.exc_info is None
    assert "connection refused" in record.getMessage()


def test_a_bug_answers_a_json_500(
    signed_in: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(json_api.api, "inbox_counts", broken)
    assert_json_error(signed_in.get("/notifications/api/unread-count/"), 500, "server_error")
    assert [
        r.exc_info is not None for r in caplog.records if r.name == "notifications.http_errors"
    ] == [True]


@pytest.mark.parametrize(
    "url", ["/notifications/api/nope/", "/notifications/api/unread-count", "/notifications/api/x/y"]
)
def test_an_unknown_api_url_answers_a_json_404(db: None, url: str) -> None:
    assert_json_error(Client().get(url), 404, "not_found")


@pytest.mark.redis
def test_through_daphne_the_database_down_answers_json_503_without_a_traceback(
    live_redis_layer: dict[str, Any], redis_url: str
) -> None:
    # A database that cannot be opened: a missing directory (SQLite), a missing database (PostgreSQL).
    with servers.daphne_server(
        redis_url, db_name="/nonexistent-notifications-db/x.sqlite3"
    ) as server:
        for method, url in API:
            conn = servers.http.client.HTTPConnection(server.host, server.port, timeout=10)
            try:
                conn.request(
                    method.upper(),
                    url,
                    headers={"Cookie": "sessionid=abcdefghijklmnopqrstuvwxyz012345"},
                )
                response = conn.getresponse()
                body = response.read()
            finally:
                conn.close()
            assert response.status == 503, body[:300]
            assert response.getheader("Content-Type") == "application/json"
        servers.assert_clean_log(server)
        assert server.log().count("WARNING") == 1, server.log()
