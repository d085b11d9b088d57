"""notifications.thread_tasks.ThreadBackend: tasks run in a thread pool beside the caller, those with
``run_after`` once due, and waiting ones never hold up the process's exit."""

from __future__ import annotations

import os
import queue
import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from notifications import api, notify
from notifications.compat_tasks import default_task_backend, task
from notifications.models import Notification
from tests import processes
from tests.conftest import THREAD_TASKS, make_user


@task()
def echo(label: str) -> str:
    return label


@pytest.fixture
def threads(settings: Any) -> None:
    settings.TASKS = THREAD_TASKS


def test_a_task_runs_in_the_pool_and_enqueue_returns_at_once(
    threads: None, finished_tasks: queue.Queue[tuple[float, Any]]
) -> None:
    result = echo.enqueue("now")
    _, done = finished_tasks.get(timeout=10)
    assert done.id == result.id and done.return_value == "now"


def test_a_deferred_task_runs_once_its_time_has_come(
    threads: None, finished_tasks: queue.Queue[tuple[float, Any]]
) -> None:
    assert default_task_backend.supports_defer
    start = time.monotonic()
    echo.using(run_after=timezone.now() + timedelta(seconds=0.8)).enqueue("later")
    echo.using(run_after=timezone.now() + timedelta(seconds=0.4)).enqueue("sooner")
    echo.using(run_after=timezone.now() - timedelta(seconds=5)).enqueue("overdue")
    echo.enqueue("now")
    assert time.monotonic() - start < 0.3  # enqueue() waited for none of them
    ran = [finished_tasks.get(timeout=10) for _ in range(4)]
    labels = [result.return_value for _, result in ran]
    assert sorted(labels[:2]) == ["now", "overdue"] and labels[2:] == ["sooner", "later"]
    at = {result.return_value: when - start for when, result in ran}
    assert at["sooner"] >= 0.4 and at["later"] >= 0.8


def test_a_task_deferred_past_what_a_lock_can_wait_delays_no_other(
    threads: None, finished_tasks: queue.Queue[tuple[float, Any]]
) -> None:
    far = timezone.now().replace(year=9999)  # e.g. a snooze "for ever"
    echo.using(run_after=far).enqueue("in 9999")
    for label in ("soon", "then"):  # the second once the timer is waiting for the far one alone
        echo.using(run_after=timezone.now() + timedelta(seconds=0.2)).enqueue(label)
        _, result = finished_tasks.get(timeout=10)
        assert result.return_value == label


@pytest.mark.django_db(transaction=True)
def test_a_snooze_wakes_on_time(
    threads: None, finished_tasks: queue.Queue[tuple[float, Any]]
) -> None:
    alice = make_user("alice")
    (n,) = notify(alice, "pinged")
    api.snooze(alice, [n.pk], timezone.now() + timedelta(seconds=0.5))  # schedules wake_snoozed
    assert Notification.objects.get().snoozed_until is not None
    _, woke = finished_tasks.get(timeout=10)
    assert woke.return_value == 1
    assert Notification.objects.get().snoozed_until is None


def test_waiting_tasks_never_hold_up_the_exit_and_a_task_due_during_it_is_dropped_cleanly() -> None:
    script = (
        "import threading, time\n"
        "from datetime import timedelta\n"
        "import django\n"
        "from django.conf import settings\n"
        "django.setup()\n"
        f"settings.TASKS = {THREAD_TASKS!r}\n"
        "from django.utils import timezone\n"
        "from tests.test_thread_tasks import echo\n"
        "echo.using(run_after=timezone.now() + timedelta(seconds=60)).enqueue('an hour later')\n"
        "echo.using(run_after=timezone.now() + timedelta(seconds=0.5)).enqueue('during exit')\n"
        # A thread still running keeps the interpreter exiting, the pool already shut, past 0.5 s.
        "threading.Thread(target=time.sleep, args=(2,)).start()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env |= {"DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": "sqlite://:memory:"}
    # The first task waits for 60 s: the exit must not.
    done = processes.run_script(script, env, timeout=30)
    assert "A deferred task was dropped: the process is exiting." in done.stderr
    assert "Traceback" not in done.stderr, done.stderr
