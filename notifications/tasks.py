"""Tasks for Django's tasks framework (see compat_tasks.py): enqueue them from your scheduler.

``send_notification_digests.enqueue()`` does what ``manage.py send_notification_digests`` does.
"""

from __future__ import annotations

from notifications import digests
from notifications.compat_tasks import task


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
