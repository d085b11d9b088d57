"""A tasks-framework backend that runs each task in a small pool of threads of this process.

For the demo and small single-process sites that run no task worker: ``enqueue()`` returns at once and
the task runs beside the request, so a slow push service never delays it. Tasks still queued are lost
when the process exits; use a real queue backend (a database or Redis worker) in production::

    TASKS = {"default": {"BACKEND": "notifications.thread_tasks.ThreadBackend",
                         "OPTIONS": {"MAX_WORKERS": 4}}}
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connections

from notifications.compat_tasks import ImmediateBackend

DEFAULT_MAX_WORKERS = 4


class ThreadBackend(ImmediateBackend):
    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self.max_workers = int(
            (params.get("OPTIONS") or {}).get("MAX_WORKERS", DEFAULT_MAX_WORKERS)
        )

    # ImmediateBackend.enqueue() builds the TaskResult and calls _execute_task() inline (the same
    # private hook in django.tasks and in the backport); here it runs in the pool instead.
    def _execute_task(self, task_result: Any) -> None:
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
