"""`manage.py notify`: by username or --all, with every notify() field; clear CommandErrors."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from notifications.models import Notification
from tests.conftest import make_user


def run(*args: str) -> str:
    out = StringIO()
    call_command("notify", *args, stdout=out)
    return out.getvalue()


def test_notify_named_users(alice: Any, bob: Any) -> None:
    make_user("carol")
    out = run("alice", "bob", "--verb", "deployed")
    assert "Notified 2 user(s)." in out
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
    assert "Notified 2 user(s)." in out
    assert sorted(Notification.objects.values_list("recipient__username", flat=True)) == [
        "alice",
        "bob",
    ]


def test_a_name_given_twice_is_notified_once(alice: Any) -> None:
    assert "Notified 1 user(s)." in run("alice", "alice", "--verb", "x")
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
        ("alice",),  # no verb
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


def test_all_with_no_users(db: None) -> None:
    assert "Notified 0 user(s)." in run("--all", "--verb", "x")


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


def test_group_notifies_its_active_members(alice: Any, bob: Any) -> None:
    from django.contrib.auth.models import Group

    carol = make_user("carol", is_active=False)
    team = Group.objects.create(name="team")
    team.user_set.add(alice, carol)
    assert "Notified 1 user(s)." in run("--group", "team", "--verb", "x")
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == ["alice"]


def test_unknown_group_is_a_command_error(alice: Any) -> None:
    with pytest.raises(CommandError, match="nope"):
        run("--group", "nope", "--verb", "x")


@pytest.mark.parametrize(
    "args", [("alice", "--group", "team"), ("--all", "--group", "team")], ids=repr
)
def test_group_excludes_other_recipient_choices(alice: Any, args: tuple[str, ...]) -> None:
    from django.contrib.auth.models import Group

    Group.objects.create(name="team").user_set.add(alice)
    with pytest.raises(CommandError):
        run(*args, "--verb", "x")
    assert not Notification.objects.exists()


def test_body_from_stdin(alice: Any) -> None:
    out = StringIO()
    call_command(
        "notify",
        "alice",
        "--verb",
        "x",
        "--body",
        "-",
        stdin=StringIO("line one\nline two\n"),
        stdout=out,
    )
    assert Notification.objects.get().body == "line one\nline two"
