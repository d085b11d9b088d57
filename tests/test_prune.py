"""prune_notifications: age, --read-only, --dry-run, batches, exact counts, sockets, progress."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications import api, notify, protocol
from notifications.models import Notification
from tests.conftest import counts_are_exact

User = get_user_model()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def prune(*args: str, stdout: io.StringIO | None = None) -> str:
    out = stdout or io.StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("prune_notifications", *args, stdout=out)
    return out.getvalue()


def aged(notifications: list[Notification], days: int) -> list[Notification]:
    Notification.objects.filter(pk__in=[n.pk for n in notifications]).update(
        created_at=timezone.now() - timedelta(days=days)
    )
    return notifications


@pytest.fixture
def inbox(alice: Any, bob: Any) -> dict[str, list[Notification]]:
    """alice: 3 old (1 read) and 1 new; bob: 2 old (both unread)."""
    old_a = aged(notify(alice, "x") + notify(alice, "x") + notify(alice, "x"), days=40)
    new_a = notify(alice, "x")
    old_b = aged(notify(bob, "x") + notify(bob, "x"), days=31)
    api.mark_read(alice, [old_a[0].pk])
    return {"old_a": old_a, "new_a": new_a, "old_b": old_b}


def test_deletes_what_is_older_and_keeps_counts_exact(
    inbox: dict[str, list[Notification]], alice: Any, bob: Any
) -> None:
    out = prune("--older-than", "30")
    assert "Deleted 5 notifications older than 30 days." in out
    assert list(Notification.objects.values_list("pk", flat=True)) == [inbox["new_a"][0].pk]
    assert (api.unread_count(alice), api.unread_count(bob)) == (1, 0)
    counts_are_exact()


def test_older_than_is_in_days(inbox: dict[str, list[Notification]]) -> None:
    assert "Deleted 3 notifications" in prune("--older-than", "35")  # alice's 40-day-old ones
    assert Notification.objects.count() == 3
    counts_are_exact()


def test_read_only_keeps_unread_ones(inbox: dict[str, list[Notification]], alice: Any) -> None:
    out = prune("--older-than", "30", "--read-only")
    assert "Deleted 1 read notification" in out
    assert not Notification.objects.filter(pk=inbox["old_a"][0].pk).exists()
    assert Notification.objects.count() == 5
    assert api.unread_count(alice) == 3
    counts_are_exact()


def test_dry_run_deletes_nothing(inbox: dict[str, list[Notification]]) -> None:
    assert "Would delete 5 notifications older than 30 days (dry run)." in prune(
        "--older-than", "30", "--dry-run"
    )
    assert "Would delete 1 read notification" in prune(
        "--older-than", "30", "--dry-run", "--read-only"
    )
    assert Notification.objects.count() == 6


def test_deletes_in_batches(inbox: dict[str, list[Notification]]) -> None:
    with CaptureQueriesContext(connection) as queries:
        out = prune("--older-than", "30", "--batch-size", "2")
    deletes = [
        q for q in queries if q["sql"].startswith('DELETE FROM "notifications_notification"')
    ]
    assert len(deletes) == 3  # 2 + 2 + 1
    assert "Deleted 5 notifications" in out
    counts_are_exact()


def test_open_sockets_get_deleted_frames(
    inbox: dict[str, list[Notification]], alice: Any, bob: Any, sent: list[Any]
) -> None:
    prune("--older-than", "30")
    frames = {group: json.loads(message["frame"]) for batch in sent for group, message in batch}
    assert frames[protocol.user_group(alice.pk)] == {
        "type": "deleted",
        "ids": sorted(n.pk for n in inbox["old_a"]),
        "unread_count": 1,
        "unseen_count": 1,
    }
    assert frames[protocol.user_group(bob.pk)] == {
        "type": "deleted",
        "ids": sorted(n.pk for n in inbox["old_b"]),
        "unread_count": 0,
        "unseen_count": 0,
    }


def test_nothing_to_prune(db: None) -> None:
    assert "Deleted 0 notifications" in prune("--older-than", "0")


def test_progress_bar_only_on_a_terminal(inbox: dict[str, list[Notification]]) -> None:
    plain = prune("--older-than", "35", "--batch-size", "1")
    assert "\r" not in plain and "[" not in plain
    terminal = prune("--older-than", "30", "--batch-size", "1", stdout=Terminal())
    assert "\r[" in terminal
    assert "] 2/2" in terminal  # bob's two after alice's were deleted
    assert terminal.rstrip().endswith("Deleted 2 notifications older than 30 days.")


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--older-than"],
        ["--older-than", "-1"],
        ["--older-than", "ten"],
        ["--older-than", "1.5"],
        ["--older-than", "99999999999"],
        ["--older-than", "30", "--batch-size", "0"],
    ],
)
def test_bad_input_is_a_command_error(
    inbox: dict[str, list[Notification]], args: list[str]
) -> None:
    with pytest.raises(CommandError):
        call_command("prune_notifications", *args, stdout=io.StringIO())
    assert Notification.objects.count() == 6
