"""`manage.py notify`: by username, --group or --all, with every notify() field; `--body -` reads
stdin; clear CommandErrors."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError

from notifications.layers import redis_channel_layer
from notifications.models import Notification
from tests.conftest import make_user


def run(*args: str, **options: Any) -> str:
    out = io.StringIO()
    call_command("notify", *args, stdout=out, **options)
    return out.getvalue()


def test_notify_named_users(alice: Any, bob: Any) -> None:
    make_user("carol")
    out = run("alice", "bob", "--verb", "deployed")
    assert "Notified 2 users;" in out
    assert sorted(Notification.objects.values_list("recipient__username", flat=True)) == [
        "alice",
        "bob",
    ]
    assert set(Notification.objects.values_list("verb", flat=True)) == {"deployed"}


def test_every_field(alice: Any) -> None:
    run(
        "alice",
        "--verb",
        "deployed",
        "--title",
        "Deploy done",
        "--body",
        "All green",
        "--url",
        "https://ci.example.com/3",
        "--level",
        "success",
        "--category",
        "ci",
    )
    n = Notification.objects.get()
    assert (n.verb, n.title, n.body, n.url, n.level, n.category) == (
        "deployed",
        "Deploy done",
        "All green",
        "https://ci.example.com/3",
        "success",
        "ci",
    )
    assert n.seq == 1 and n.read_at is None


def test_all_notifies_every_active_user(alice: Any, bob: Any) -> None:
    make_user("carol", is_active=False)
    out = run("--all", "--verb", "maintenance tonight")
    assert "Notified 2 users;" in out
    assert sorted(Notification.objects.values_list("recipient__username", flat=True)) == [
        "alice",
        "bob",
    ]


def test_a_name_given_twice_is_notified_once(alice: Any) -> None:
    assert "Notified 1 user;" in run("alice", "alice", "--verb", "x")
    assert Notification.objects.count() == 1


def test_unknown_users_are_a_command_error_and_nobody_is_notified(alice: Any) -> None:
    with pytest.raises(CommandError, match=r"Unknown user.*nobody.*ghost"):
        run("alice", "nobody", "ghost", "--verb", "x")
    assert not Notification.objects.exists()


@pytest.mark.parametrize("url", ["javascript:alert(1)", "//evil.example", "ftp://x"])
def test_bad_url_is_a_command_error(alice: Any, url: str) -> None:
    with pytest.raises(CommandError, match="url"):
        run("alice", "--verb", "x", "--url", url)
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    "args",
    [
        ("--verb", "x"),  # nobody
        ("alice", "--all", "--verb", "x"),  # both
        ("alice", "--verb", "x", "--level", "debug"),
        ("alice", "--verb", ""),
        ("alice", "--verb", "x", "--category", "has space"),
        ("alice", "--verb", "x", "--title", "t" * 300),
    ],
    ids=repr,
)
def test_bad_arguments_are_command_errors(alice: Any, args: tuple[str, ...]) -> None:
    with pytest.raises(CommandError):
        run(*args)
    assert not Notification.objects.exists()


def test_the_verb_has_a_default_so_a_title_alone_does(alice: Any) -> None:
    run("alice", "--title", "hi")
    assert Notification.objects.values_list("verb", "title").get() == ("notified", "hi")


@pytest.mark.parametrize(
    ("layers", "note"),
    [
        ("memory", "open sockets get it within ~1.5 s (in-memory layer: server processes poll"),
        ("none", "live delivery is off (no channel layer)"),
        ("redis", "open sockets get it live through Redis"),
        ("group_send", "open sockets get it live through the channel layer"),
    ],
)
def test_the_command_says_how_open_sockets_get_it(
    alice: Any, bob: Any, settings: Any, monkeypatch: pytest.MonkeyPatch, layers: str, note: str
) -> None:
    monkeypatch.setattr("notifications.delivery.send", lambda messages: None)  # no Redis needed
    settings.CHANNEL_LAYERS = {
        "memory": {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}},
        "none": {},
        "redis": {"default": redis_channel_layer("redis://127.0.0.1:6379/0")},
        "group_send": {"default": redis_channel_layer("redis://127.0.0.1:6379/0")},
    }[layers]
    if layers == "group_send":
        settings.NOTIFICATIONS = {"TRANSPORT": "layer"}
    assert f"Notified 2 users; {note}" in run("alice", "bob", "--title", "hi")


def test_all_with_no_users(db: None) -> None:
    assert "Notified 0 users;" in run("--all", "--verb", "x")


def test_manage_py_knows_the_command() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [sys.executable, str(root / "manage.py"), "notify", "--help"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for option in ("--verb", "--title", "--body", "--url", "--level", "--category", "--all"):
        assert option in result.stdout


@pytest.fixture
def team(alice: Any, bob: Any) -> Group:
    group = Group.objects.create(name="team")
    group.user_set.add(alice, make_user("gone", is_active=False))
    return group


def test_group_notifies_its_active_members(team: Group, alice: Any) -> None:
    out = run("--group", "team", "--verb", "announced", "--title", "Standup")
    assert "Notified 1 user;" in out
    assert list(Notification.objects.values_list("recipient__username", "title")) == [
        ("alice", "Standup")
    ]


def test_unknown_group_is_a_command_error(team: Group) -> None:
    with pytest.raises(CommandError, match="Unknown group: 'nope'"):
        run("--group", "nope", "--verb", "x")
    assert Notification.objects.count() == 0


@pytest.mark.parametrize(
    "args",
    [
        ["--group", "team", "alice"],
        ["--group", "team", "--all"],
        ["--all", "alice"],
        [],
    ],
)
def test_one_kind_of_recipients_at_a_time(team: Group, args: list[str]) -> None:
    with pytest.raises(CommandError, match="--group"):
        run(*args, "--verb", "x")
    assert Notification.objects.count() == 0


def test_body_dash_reads_stdin(alice: Any) -> None:
    run("alice", "--verb", "x", "--body", "-", stdin=io.StringIO("line one\nline two\n"))
    assert Notification.objects.get().body == "line one\nline two"


def test_body_dash_reads_the_process_stdin(alice: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("from a pipe\n"))
    run("alice", "--verb", "x", "--body", "-")
    assert Notification.objects.get().body == "from a pipe"


def test_body_dash_with_group(team: Group, alice: Any) -> None:
    run("--group", "team", "--verb", "x", "--body", "-", stdin=io.StringIO("Café ☕"))
    assert Notification.objects.get(recipient=alice).body == "Café ☕"


def test_a_literal_body_is_not_read_from_stdin(alice: Any) -> None:
    run("alice", "--verb", "x", "--body=-x", stdin=io.StringIO("unused"))
    assert Notification.objects.get().body == "-x"


def test_undecodable_stdin_is_a_command_error(alice: Any) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"\xff\xfe bad"), encoding="utf-8")
    with pytest.raises(CommandError, match="not valid text"):
        run("alice", "--verb", "x", "--body", "-", stdin=stdin)
    assert Notification.objects.count() == 0


@pytest.mark.parametrize("audience", [["--all"], ["--group", "team"]])
def test_all_and_group_are_sent_in_batches(
    team: Group, alice: Any, settings: Any, audience: list[str]
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.NOTIFICATIONS = {"BATCH_SIZE": 2}
    for i in range(4):
        team.user_set.add(make_user(f"member{i}"))
    with CaptureQueriesContext(connection) as queries:
        out = run(*audience, "--verb", "x")
    n = 5 if audience == ["--group", "team"] else 6  # bob is not in the team
    assert f"Notified {n} users;" in out
    inserts = [q for q in queries if 'INSERT INTO "notifications_notification"' in q["sql"]]
    assert len(inserts) == 3
