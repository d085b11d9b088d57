"""Django's tasks framework: ``django.tasks`` on Django 6, the ``django-tasks`` backport on 5.2.

Both read the ``TASKS`` setting; without one, tasks run at once in the process that enqueues them.
"""

from __future__ import annotations

try:
    from django.tasks import default_task_backend, task
    from django.tasks.backends.immediate import ImmediateBackend
except ImportError:  # Django < 6
    from django_tasks import (  # type: ignore[no-redef,import-untyped,assignment,unused-ignore]
        default_task_backend,
        task,
    )
    from django_tasks.backends.immediate import (  # type: ignore[assignment,import-untyped,unused-ignore]
        ImmediateBackend,
    )

__all__ = ["ImmediateBackend", "default_task_backend", "task"]
