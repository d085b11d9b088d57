"""Tasks for Django's tasks framework (see compat_tasks.py): enqueue them from your scheduler.

``send_notification_digests.enqueue()`` does what ``manage.py send_notification_digests`` does, and
``wake_snoozed.enqueue()`` what ``manage.py wake_snoozed`` does. ``api.snooze()`` also enqueues
``wake_snoozed`` to run at the snooze's end when the backend can defer tasks (``supports_defer``).
"""

from __future__ import annotations

from notifications import api, digests
from notifications.compat_tasks import default_task_backend, task

__all__ = ["default_task_backend", "send_notification_digests", "wake_snoozed"]


@task()
def send_notification_digests() -> dict[str, int]:
    """Send the due email digests; return how many were sent, failed and skipped."""
    report = digests.send_digests()
    return {
        "sent": len(report.sent),
        "failed": len(report.failed),
        "skipped": len(report.skipped),
        "notifications": sum(len(d.notifications) for d in report.sent),
    }


@task()
def wake_snoozed() -> int:
    """Bring back the notifications whose snooze ended; return how many woke."""
    return api.wake_snoozed()
