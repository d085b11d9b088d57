"""A tasks-framework backend that runs each task in a small pool of threads of this process.

For the demo and small single-process sites that run no task worker: ``enqueue()`` returns at once and
the task runs beside the request, so a slow push service never delays it. A task enqueued with
``run_after`` (``supports_defer``) waits in memory and goes to the pool at that time. Tasks still queued
or waiting are lost when the process exits; use a real queue backend (a database or Redis worker) in
production::

    TASKS = {"default": {"BACKEND": "notifications.thread_tasks.ThreadBackend",
                         "OPTIONS": {"MAX_WORKERS": 4}}}
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connections
from django.utils import timezone

from notifications.compat_tasks import ImmediateBackend

DEFAULT_MAX_WORKERS = 4

logger = logging.getLogger("notifications.tasks")


class ThreadBackend(ImmediateBackend):
    supports_defer = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self.max_workers = int(
            (params.get("OPTIONS") or {}).get("MAX_WORKERS", DEFAULT_MAX_WORKERS)
        )

    # ImmediateBackend.enqueue() builds the TaskResult and calls _execute_task() inline (the same
    # private hook in django.tasks and in the backport); here it runs in the pool instead, now or at
    # its run_after.
    def _execute_task(self, task_result: Any) -> None:
        run_after = task_result.task.run_after
        delay = 0.0 if run_after is None else (run_after - timezone.now()).total_seconds()
        if delay > 0:
            _deferred.add(time.monotonic() + delay, lambda: self._submit(task_result))
        else:
            self._submit(task_result)

    def _submit(self, task_result: Any) -> None:
        _executor(self.max_workers).submit(self._run, task_result)

    def _run(self, task_result: Any) -> None:
        try:
            super()._execute_task(task_result)  # type: ignore[misc]  # not in django-stubs
        finally:
            connections.close_all()  # this thread's connections: a pool thread may idle for hours


_lock = threading.Lock()
_executors: dict[int, ThreadPoolExecutor] = {}


def _executor(max_workers: int) -> ThreadPoolExecutor:
    # One pool per process and size, shared by every instance of the backend (the tasks framework
    # creates one per thread).
    with _lock:
        pool = _executors.get(max_workers)
        if pool is None:
            pool = ThreadPoolExecutor(max_workers, thread_name_prefix="notifications-task")
            _executors[max_workers] = pool
        return pool


class _Deferred:
    """The deferred tasks of this process, by time: one thread hands each to the pool when due.

    One thread whatever their number (a push service down during a broadcast defers a retry per
    subscription), touching no database. It is a daemon: waiting tasks never hold up the process's exit.
    """

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()  # equal times keep their enqueue order
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, when: float, start: Callable[[], None]) -> None:
        """Call ``start`` at ``when`` (time.monotonic())."""
        with self._changed:
            heapq.heappush(self._due, (when, next(self._order), start))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="notifications-task-timer", daemon=True
                )
                self._thread.start()
            self._changed.notify()

    def _loop(self) -> None:
        while True:
            start = self._next()
            try:
                start()
            except RuntimeError:  # the pool refuses new work once the interpreter is exiting
                logger.warning("A deferred task was dropped: the process is exiting.")

    def _next(self) -> Callable[[], None]:
        with self._changed:
            while True:
                if not self._due:
                    self._changed.wait()
                    continue
                wait = self._due[0][0] - time.monotonic()
                if wait <= 0:
                    return heapq.heappop(self._due)[2]
                # A snooze until 9999 is further than a lock can wait (OverflowError): wake, look again.
                self._changed.wait(min(wait, threading.TIMEOUT_MAX))


_deferred = _Deferred()
