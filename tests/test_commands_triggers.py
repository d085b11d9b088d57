"""`notify --group NAME` and `notify --body -` (the rest of the command: tests/test_commands.py)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from notifications.models import Notification
from tests.conftest import make_user


def run(*args: str, **options: Any) -> str:
    out = io.StringIO()
    call_command("notify", *args, stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def team(alice: Any, bob: Any) -> Group:
    group = Group.objects.create(name="team")
    group.user_set.add(alice, make_user("gone", is_active=False))
    return group


def test_group_notifies_its_active_members(team: Group, alice: Any) -> None:
    out = run("--group", "team", "--verb", "announced", "--title", "Standup")
    assert "Notified 1 user(s)." in out
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
    assert f"Notified {n} user(s)." in out
    inserts = [q for q in queries if 'INSERT INTO "notifications_notification"' in q["sql"]]
    assert len(inserts) == 3
