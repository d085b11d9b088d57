"""Shared fixtures: users, channel layers (in-memory and real Redis), daphne servers.

Redis: NOTIFICATIONS_TEST_REDIS_URL if set, else 127.0.0.1:6379 if it answers, else a throwaway
redis-server on a free port if the binary exists, else the Redis tests skip; under CI=true a missing
Redis fails them instead.
"""

from __future__ import annotations

import os
import queue
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from django.contrib.auth import get_user_model
from django.db import connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from notifications import delivery
from notifications.layers import redis_channel_layer

CI = os.environ.get("CI") == "true"

# Property-based tests (tests/test_fuzz.py): the same few examples on every run and every machine.
hypothesis_settings.register_profile(
    "notifications",
    derandomize=True,
    database=None,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
hypothesis_settings.load_profile("notifications")
# Every key this test run writes to Redis starts with this prefix (daphne subprocesses inherit it), and
# only those keys are ever deleted: test runs sharing one Redis do not wipe each other's groups.
#: TASKS for tests whose tasks run in the background, as on a single-process site.
THREAD_TASKS = {"default": {"BACKEND": "notifications.thread_tasks.ThreadBackend"}}
REDIS_PREFIX = os.environ.setdefault("NOTIFICATIONS_TEST_REDIS_PREFIX", f"test{os.getpid()}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The fault suite (marker `faults`) runs only when selected: ``-m faults`` (make test-faults)."""
    if "faults" in (config.option.markexpr or ""):
        return
    faults = [item for item in items if item.get_closest_marker("faults")]
    if faults:
        config.hook.pytest_deselected(items=faults)
        items[:] = [item for item in items if not item.get_closest_marker("faults")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _redis_answers("127.0.0.1", port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"redis-server on port {port} did not start")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis on 127.0.0.1 (only ever there)."""
    configured = os.environ.get("NOTIFICATIONS_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    if _redis_answers("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/15"
        return
    binary = shutil.which("redis-server")
    if binary is None:
        if CI:
            pytest.fail(
                "CI=true: Redis is required, and neither 127.0.0.1:6379 nor redis-server exists"
            )
        pytest.skip("No Redis: nothing answers on 127.0.0.1:6379 and redis-server is not installed")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="notifications-redis-")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port)
        yield f"redis://127.0.0.1:{port}/15"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def redis_layer(settings: Any, redis_url: str) -> Iterator[dict[str, Any]]:
    """Switch the default channel layer to channels-redis on the test Redis (emptied before)."""
    config = redis_channel_layer(redis_url, prefix=REDIS_PREFIX)
    settings.CHANNEL_LAYERS = {"default": config}
    delete_redis_keys(redis_url)
    yield config
    channel_layers.backends.clear()


def delete_redis_keys(url: str, prefix: str = REDIS_PREFIX) -> None:
    """Delete the keys under `prefix` (the suite's by default): never FLUSHDB, the Redis is shared."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(params=["memory", "redis"])
def any_layer(request: pytest.FixtureRequest, settings: Any) -> str:
    """Run a test on the in-memory layer and on channels-redis against the real Redis."""
    if request.param == "redis":
        request.getfixturevalue("redis_layer")
    else:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return str(request.param)


def make_user(username: str, **extra: Any) -> Any:
    return get_user_model().objects.create_user(username=username, password=username, **extra)


def make_users(count: int) -> list[Any]:
    """`count` users (user0, user1 ...) made in one INSERT, without passwords, in pk order."""
    model = get_user_model()
    names = [f"user{i}" for i in range(count)]
    model.objects.bulk_create(model(username=name) for name in names)
    return list(model.objects.filter(username__in=names).order_by("pk"))


def counts_are_exact() -> None:
    """Every stored unread and unseen count equals the real COUNT of them in the inbox."""
    from django.db.models import Count, Q

    from notifications.models import InboxState

    listed = Q(notifications__archived_at__isnull=True, notifications__snoozed_until__isnull=True)
    actual = {
        pk: (unread, unseen)
        for pk, unread, unseen in get_user_model()
        .objects.annotate(
            unread=Count("notifications", filter=listed & Q(notifications__read_at__isnull=True)),
            unseen=Count("notifications", filter=listed & Q(notifications__seen_at__isnull=True)),
        )
        .values_list("pk", "unread", "unseen")
    }
    for state in InboxState.objects.all():
        assert (state.unread_count, state.unseen_count) == actual[state.user_id], state


@pytest.fixture
def alice(db: None) -> Any:
    return make_user("alice")


@pytest.fixture
def bob(db: None) -> Any:
    return make_user("bob")


# Live servers: daphne subprocesses sharing the test database and Redis (tests/servers.py).


@pytest.fixture
def live_redis_layer(settings: Any, redis_url: str) -> Iterator[dict[str, Any]]:
    """This process's channel layer, set to the one daphne subprocesses use (Redis, emptied)."""
    from tests import servers

    config = servers.redis_layer_config(redis_url)
    settings.CHANNEL_LAYERS = {"default": config}
    delete_redis_keys(redis_url)
    yield config
    channel_layers.backends.clear()


@pytest.fixture
def daphne_factory(
    transactional_db: None, live_redis_layer: dict[str, Any], redis_url: str
) -> Iterator[Any]:
    """Start daphne processes on free ports (``daphne_factory(**kwargs)``); all stop after the test.

    Each serves ``project.asgi:application`` with tests.settings, the test database and this Redis;
    ``server.login(username, password)`` returns the session cookies of a real HTTP login.
    """
    from contextlib import ExitStack

    from tests import servers

    with ExitStack() as stack:

        def start(**kwargs: Any) -> servers.DaphneServer:
            return stack.enter_context(servers.daphne_server(redis_url, **kwargs))

        yield start


@pytest.fixture
def daphne(daphne_factory: Any) -> Any:
    """One daphne process (see ``daphne_factory``)."""
    return daphne_factory()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[list[delivery.Message]]:
    """Every batch handed to live delivery (instead of the channel layer)."""
    batches: list[list[delivery.Message]] = []
    monkeypatch.setattr(delivery, "send", lambda messages: batches.append(list(messages)))
    return batches


@pytest.fixture
def client_a(alice: Any) -> Any:
    """A test client signed in as alice (no CSRF checks)."""
    from django.test import Client

    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def finished_tasks() -> Iterator[queue.Queue[tuple[float, Any]]]:
    """Each task of the tasks framework that finishes during the test, as it finishes:
    (time.monotonic(), its TaskResult). Awaits what a background backend (ThreadBackend) runs."""
    try:
        from django.tasks.signals import task_finished
    except ImportError:  # Django < 6
        from django_tasks.signals import task_finished  # type: ignore[no-redef]

    finished: queue.Queue[tuple[float, Any]] = queue.Queue()

    def receiver(sender: Any, task_result: Any, **kwargs: Any) -> None:
        finished.put((time.monotonic(), task_result))

    task_finished.connect(receiver, weak=False)
    yield finished
    task_finished.disconnect(receiver)


@pytest.fixture
async def close_thread_connections() -> Any:
    """Close the database connection of sync_to_async's worker thread after an async test."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture(autouse=True)
def _close_sync_to_async_db_connection() -> Iterator[None]:
    """Close the database connection of sync_to_async's shared thread after each test.

    Async tests (and the consumers they drive) run their ORM calls in that one thread, whose
    connection would otherwise stay open: PostgreSQL then refuses to drop the test database.
    """
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)
