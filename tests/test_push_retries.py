"""Web Push retries (docs/push.md): each one a task of its own for one subscription, queued with
``run_after``, that checks again before sending. Nothing sleeps, so a failing or hanging push service
delays no other browser of the user and holds no worker."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from notifications import api, notify
from notifications.compat_tasks import ImmediateBackend, default_task_backend
from notifications.models import PushSubscription
from notifications.push_tasks import send_test_push
from tests.conftest import THREAD_TASKS, make_user
from tests.push_service import Browser, LocalPushService, local_push_service
from tests.test_webpush import VAPID, subscribe

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def web_push(settings: Any) -> dict[str, Any]:
    config = {**VAPID, "SUBJECT": "mailto:ops@example.com", "RETRY_DELAY": 0.5}
    settings.NOTIFICATIONS = {"WEB_PUSH": config}
    # A backend that can defer and runs nothing by itself: run_next() plays the worker.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    return config


@pytest.fixture
def service() -> Iterator[LocalPushService]:
    with local_push_service() as service:
        yield service


def run_next() -> tuple[str, list[Any], float | None]:
    """Run the first queued task, as a worker would once it is due; return its name, its arguments
    and how many seconds it was deferred by (None: not deferred)."""
    result = default_task_backend.results.pop(0)
    run_after = result.task.run_after
    deferred = None
    if run_after is not None:
        deferred = round((run_after - result.enqueued_at).total_seconds(), 1)
    result.task.call(*result.args, **result.kwargs)
    return result.task.name, list(result.args), deferred


def run_queued() -> list[tuple[str, list[Any], float | None]]:
    """Run the queued tasks, and those they queue, until none is left."""
    ran = []
    while default_task_backend.results:
        ran.append(run_next())
    return ran


def phone_and_laptop(
    settings: Any, service: LocalPushService, config: dict[str, Any]
) -> tuple[Any, Browser]:
    """alice with two browsers, her tasks run by ThreadBackend; return her and the laptop's browser,
    the newest subscription: the first one send_push pushes to."""
    settings.TASKS = THREAD_TASKS
    settings.NOTIFICATIONS = {"WEB_PUSH": config}
    alice = make_user("alice")
    subscribe(alice, service, "alice-phone")
    return alice, subscribe(alice, service, "alice-laptop")


def test_a_failing_subscription_delays_no_other_subscription_of_the_user(
    web_push: dict[str, Any],
    service: LocalPushService,
    settings: Any,
    finished_tasks: queue.Queue[Any],
) -> None:
    alice, laptop = phone_and_laptop(settings, service, {**web_push, "RETRY_DELAY": 1.0})
    laptop.statuses = [503]
    notify(alice, "pinged")
    # The phone's push went out at once; the laptop's second attempt a second later.
    paths = [service.next_message().path for _ in range(2)]
    assert paths == ["/push/alice-phone", "/push/alice-laptop"]
    for _ in range(3):  # send_push, the phone's push, the laptop's retry
        finished_tasks.get(timeout=10)
    counts = PushSubscription.objects.values_list("success_count", "failure_count")
    assert list(counts) == [(1, 0), (1, 0)]


def test_a_hanging_subscription_delays_no_other_subscription_of_the_user(
    web_push: dict[str, Any],
    service: LocalPushService,
    settings: Any,
    finished_tasks: queue.Queue[Any],
) -> None:
    alice, laptop = phone_and_laptop(settings, service, {**web_push, "TIMEOUT": 30})
    laptop.hang = threading.Event()
    laptop.hang.set()
    notify(alice, "pinged")
    assert service.waiting.acquire(timeout=10)
    assert service.next_message(timeout=5).path == "/push/alice-phone"  # the laptop still hangs
    laptop.hang.clear()
    assert service.next_message().path == "/push/alice-laptop"
    for _ in range(2):  # send_push (the laptop's), the phone's
        finished_tasks.get(timeout=10)


@pytest.mark.parametrize(
    ("status", "headers", "delays"),
    [
        (429, {}, [0.5, 1.0]),  # RETRY_DELAY, doubled
        (500, {}, [0.5, 1.0]),
        (503, {}, [0.5, 1.0]),
        (429, {"Retry-After": "7"}, [7.0, 7.0]),
        (503, {"Retry-After": "3600"}, [60.0, 60.0]),  # at most a minute
    ],
)
def test_a_retry_is_a_task_of_its_own_queued_for_later(
    web_push: dict[str, Any],
    service: LocalPushService,
    status: int,
    headers: dict[str, str],
    delays: list[float],
) -> None:
    alice = make_user("alice")
    browser = subscribe(alice, service, "alice")
    browser.statuses, browser.headers = [status, status], headers
    (n,) = notify(alice, "pinged", title="finally")
    pk = PushSubscription.objects.get().pk
    assert run_queued() == [
        ("send_push", [n.pk], None),
        ("push_to_subscription", [pk, n.pk, 2], delays[0]),
        ("push_to_subscription", [pk, n.pk, 3], delays[1]),
    ]
    assert service.next_message().payload["title"] == "finally"
    assert [s for _, s in service.requests] == [status, status, 201]
    subscription = PushSubscription.objects.get()
    assert (subscription.success_count, subscription.failure_count) == (1, 0)


@pytest.mark.parametrize("max_attempts", [3, 4])
def test_attempts_stop_at_max_attempts_and_the_failure_counts_once(
    web_push: dict[str, Any],
    service: LocalPushService,
    settings: Any,
    caplog: Any,
    max_attempts: int,
) -> None:
    settings.NOTIFICATIONS = {"WEB_PUSH": {**web_push, "MAX_ATTEMPTS": max_attempts}}
    alice = make_user("alice")
    browser = subscribe(alice, service, "alice")
    browser.statuses = [500] * 10
    with caplog.at_level(logging.INFO, logger="notifications.push"):
        notify(alice, "pinged")
        ran = run_queued()
    attempts = [args[2] for name, args, _ in ran if name == "push_to_subscription"]
    assert attempts == list(range(2, max_attempts + 1))
    assert [s for _, s in service.requests] == [500] * max_attempts
    subscription = PushSubscription.objects.get()
    assert (subscription.success_count, subscription.failure_count) == (0, 1)
    assert subscription.last_error == "HTTP 500"
    assert subscription.last_failure_at is not None
    assert caplog.text.count("retrying in") == max_attempts - 1
    assert caplog.text.count("failed: HTTP 500.") == 1
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("meanwhile", ["read", "deleted", "unsubscribed", "moved to bob"])
def test_a_retry_checks_again_before_sending(
    web_push: dict[str, Any], service: LocalPushService, caplog: Any, meanwhile: str
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    browser = subscribe(alice, service, "alice")
    browser.statuses = [503]
    pk = PushSubscription.objects.get().pk
    (n,) = notify(alice, "pinged")
    assert run_next()[0] == "send_push"  # the first attempt fails: a retry is queued
    assert service.requests == [("/push/alice", 503)]
    if meanwhile == "read":
        api.mark_read(alice, [n.pk])
    elif meanwhile == "deleted":
        api.delete(alice, [n.pk])
    elif meanwhile == "unsubscribed":
        PushSubscription.objects.all().delete()
    else:  # the same browser, now signed in as bob (a shared computer): not his notification
        PushSubscription.objects.update(user=bob)
    with caplog.at_level(logging.INFO, logger="notifications.push"):
        assert run_queued() == [("push_to_subscription", [pk, n.pk, 2], 0.5)]
    assert service.requests == [("/push/alice", 503)]  # nothing sent
    assert "skipped" in caplog.text
    counts = PushSubscription.objects.values_list("success_count", "failure_count")
    assert list(counts) == ([] if meanwhile == "unsubscribed" else [(0, 0)])


def test_the_admins_test_push_is_retried_too(
    web_push: dict[str, Any], service: LocalPushService
) -> None:
    browser = subscribe(make_user("alice"), service, "alice")
    browser.statuses = [503]
    pk = PushSubscription.objects.get().pk
    send_test_push.enqueue(pk)
    assert run_queued() == [
        ("send_test_push", [pk], None),
        ("push_to_subscription", [pk, None, 2], 0.5),
    ]
    assert service.next_message().payload["tag"] == "notifications-test"


def test_without_a_backend_that_can_defer_a_failure_is_not_retried_and_says_why(
    web_push: dict[str, Any], service: LocalPushService, settings: Any, caplog: Any
) -> None:
    # The default without TASKS: it runs each task in the caller, the request that called notify().
    settings.TASKS = {"default": {"BACKEND": f"{ImmediateBackend.__module__}.ImmediateBackend"}}
    alice = make_user("alice")
    browser = subscribe(alice, service, "alice")
    browser.statuses = [503]
    with caplog.at_level(logging.INFO, logger="notifications.push"):
        notify(alice, "pinged")
    assert service.requests == [("/push/alice", 503)]
    subscription = PushSubscription.objects.get()
    assert (subscription.success_count, subscription.failure_count) == (0, 1)
    assert "failed: HTTP 503; not retried: the TASKS backend cannot run a task later" in caplog.text


def test_a_refused_push_is_not_retried(web_push: dict[str, Any], service: LocalPushService) -> None:
    alice = make_user("alice")
    browser = subscribe(alice, service, "alice")
    browser.statuses = [403]  # e.g. a VAPID key that is not the one the browser subscribed with
    notify(alice, "pinged")
    assert [name for name, _, _ in run_queued()] == ["send_push"]
    assert service.requests == [("/push/alice", 403)]
    assert PushSubscription.objects.get().failure_count == 1


def test_an_unreachable_service_is_retried_then_counted(web_push: dict[str, Any]) -> None:
    from tests.servers import free_port

    alice = make_user("alice")
    PushSubscription.objects.create(
        user=alice,
        endpoint=f"http://127.0.0.1:{free_port()}/nobody",
        p256dh=LocalPushService().browser("x").p256dh,
        auth="AAAAAAAAAAAAAAAAAAAAAA",
    )
    notify(alice, "pinged")
    assert [name for name, _, _ in run_queued()] == ["send_push"] + ["push_to_subscription"] * 2
    subscription = PushSubscription.objects.get()
    assert subscription.failure_count == 1
    assert subscription.last_error.startswith("ConnectionError")
