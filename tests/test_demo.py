"""The demo project: login, the home page, the send form, demo_setup."""

from __future__ import annotations

import time
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from notifications import notify
from notifications.models import Notification
from tests import servers
from tests.conftest import make_user

User = get_user_model()


def test_login_page_renders(db: None) -> None:
    response = Client().get("/accounts/login/")
    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="username"' in content and 'name="password"' in content
    assert "csrfmiddlewaretoken" in content


def test_login_with_the_form(alice: Any) -> None:
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "alice", "next": "/"}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_login_with_a_wrong_password_fails(alice: Any) -> None:
    client = Client()
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("url", ["/", "/send/"])
def test_pages_require_login(db: None, url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_home_lists_only_the_signed_in_users_notifications(
    client_a: Client, alice: Any, bob: Any
) -> None:
    notify(alice, "x", title="For alice one")
    notify(alice, "x", title="For alice two")
    notify(bob, "x", title="For bob only")
    content = client_a.get("/").content.decode()
    assert "For alice one" in content and "For alice two" in content
    assert "For bob only" not in content


def test_home_escapes_user_text(client_a: Client, alice: Any) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    notify(alice, "x", title=evil, body=evil)
    content = client_a.get("/").content.decode()
    assert "<script>alert(" not in content
    assert "<img src=x" not in content
    assert "&lt;script&gt;alert(" in content  # shown as text


def test_send_form_renders(client_a: Client, bob: Any) -> None:
    response = client_a.get("/send/")
    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="title"' in content and "bob" in content and "Everyone" in content


def test_send_to_one_user(client_a: Client, alice: Any, bob: Any) -> None:
    response = client_a.post(
        "/send/",
        {
            "recipient": str(bob.pk),
            "title": "Hi Bob",
            "body": "b",
            "url": "/x/",
            "level": "warning",
        },
    )
    assert response.status_code == 302
    n = Notification.objects.get()
    assert n.recipient == bob and n.actor == alice
    assert (n.title, n.body, n.url, n.level, n.category) == (
        "Hi Bob",
        "b",
        "/x/",
        "warning",
        "demo",
    )
    follow = client_a.get(response["Location"])
    assert "Sent to 1 user(s)." in follow.content.decode()


def test_send_to_everyone_active(client_a: Client, alice: Any, bob: Any) -> None:
    make_user("carol", is_active=False)
    response = client_a.post("/send/", {"recipient": "", "title": "All hands", "level": "info"})
    assert response.status_code == 302
    assert sorted(
        Notification.objects.filter(title="All hands").values_list("recipient__username", flat=True)
    ) == ["alice", "bob"]


@pytest.mark.parametrize(
    "data",
    [
        {"title": "t", "level": "info", "url": "javascript:alert(1)"},
        {"title": "t", "level": "info", "url": "//evil.example"},
        {"title": "", "level": "info"},
        {"title": "t", "level": "debug"},
        {"title": "t", "level": "info", "recipient": "not-a-user"},
    ],
    ids=repr,
)
def test_send_form_refuses_bad_input(client_a: Client, data: dict[str, str]) -> None:
    response = client_a.post("/send/", data)
    assert response.status_code == 200  # the form again, with errors
    assert "errorlist" in response.content.decode()
    assert not Notification.objects.exists()


def test_send_requires_csrf(alice: Any, bob: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post("/send/", {"recipient": str(bob.pk), "title": "t", "level": "info"})
    assert response.status_code == 403
    assert not Notification.objects.exists()


def test_send_form_escapes_user_names(client_a: Client) -> None:
    make_user("<b>mallory</b>")
    content = client_a.get("/send/").content.decode()
    assert "<b>mallory</b>" not in content
    assert "&lt;b&gt;mallory&lt;/b&gt;" in content


def test_admin_is_mounted(db: None) -> None:
    response = Client().get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


# demo_setup


def run_setup() -> str:
    out = StringIO()
    call_command("demo_setup", stdout=out)
    return out.getvalue()


def test_demo_setup_creates_the_users(db: None) -> None:
    out = run_setup()
    users = {u.username: u for u in User.objects.all()}
    assert set(users) == {"alice", "bob", "admin"}
    for name in ("alice", "bob", "admin"):
        assert users[name].check_password(name)
        assert name in out
    assert users["admin"].is_superuser and users["admin"].is_staff
    assert not users["alice"].is_staff and not users["bob"].is_superuser
    assert "password" in out


def test_demo_setup_is_idempotent(db: None) -> None:
    run_setup()
    before = list(Notification.objects.order_by("pk").values_list("pk", flat=True))
    run_setup()
    assert User.objects.count() == 3
    assert list(Notification.objects.order_by("pk").values_list("pk", flat=True)) == before


def test_demo_setup_welcomes_each_user_once(db: None) -> None:
    run_setup()
    run_setup()
    for name in ("alice", "bob", "admin"):
        assert Notification.objects.filter(recipient__username=name, verb="joined").count() == 1


def test_demo_setup_keeps_existing_users(alice: Any) -> None:
    alice.set_password("changed")
    alice.save()
    run_setup()
    alice.refresh_from_db()
    assert alice.check_password("changed")
    assert User.objects.count() == 3


def test_demo_users_can_sign_in(db: None) -> None:
    run_setup()
    client = Client()
    assert client.login(username="bob", password="bob")
    assert "Welcome to the demo, bob!" in client.get("/").content.decode()


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/", "/"),
        ("https://evil.example/", "/send/"),
        ("//evil.example/", "/send/"),
        ("", "/send/"),
    ],
)
def test_send_returns_to_a_same_site_next_only(
    client_a: Client, alice: Any, next_url: str, expected: str
) -> None:
    data = {"recipient": str(alice.pk), "title": "t", "level": "info", "next": next_url}
    response = client_a.post("/send/", data)
    assert response.status_code == 302
    assert response["Location"] == expected


def test_favicon_is_served_without_a_404(client_a: Client) -> None:
    """Pages link the demo's icon, and /favicon.ico (asked for by pages that link none) redirects to it."""
    assert 'rel="icon" href="/static/demo/favicon.svg"' in client_a.get("/").content.decode()
    response = Client().get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/demo/favicon.svg"


def test_make_demo_is_live_from_a_second_shell_without_redis(tmp_path: Path) -> None:
    # What `make demo` runs, on the demo's own settings (in-memory layer, SQLite), then the README's
    # `manage.py notify` from another process: daphne's sync pass finds it in the database.
    demo = {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "REDIS_URL": "",
    }
    servers.manage("", "migrate", "--noinput", env=demo)
    servers.manage("", "demo_setup", env=demo)
    with (
        servers.daphne_server("", env=demo) as daphne,
        servers.ws_connect(daphne, daphne.login("alice", "alice")) as ws,
    ):
        assert servers.recv_json(ws)["type"] == "welcome"
        out = servers.manage("", "notify", "alice", "--title", "hi", env=demo).stdout
        sent = time.monotonic()
        assert "Notified 1 user; open sockets get it within ~1.5 s (in-memory layer" in out
        frame = servers.recv_json(ws, timeout=5)
        assert time.monotonic() - sent < 2
        assert frame["type"] == "notification" and frame["notification"]["title"] == "hi"
        assert "Traceback" not in daphne.log()
