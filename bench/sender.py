"""The sending process: a worker with no server event loop, as a management command or a job queue is.

    DJANGO_SETTINGS_MODULE=... DATABASE_URL=sqlite:///... python bench/sender.py ours|tutorial

It reads one JSON command per line on stdin and answers one JSON line on stdout (logs go to stderr).
Times are ``time.monotonic()``, one clock for every process of the machine, so the runner can subtract
them from the clients' arrival times.

What each app does per command:

- ``ours``: ``notifications.notify(user, ...)`` per single notification, ``notify(users, ...)`` once
  for a broadcast: the public API, whatever transport the branch has behind it.
- ``tutorial``: ``Notification.objects.create(...)`` per notification, in autocommit; its
  ``post_save`` receiver does one ``async_to_sync(group_send)``. A broadcast is one save per user.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

Send = Callable[[list[Any], str], None]


def _ours() -> tuple[Send, Send]:
    from notifications import notify

    def single(users: list[Any], title: str) -> None:
        notify(users[0], "bench", title=title)

    def broadcast(users: list[Any], title: str) -> None:
        notify(users, "bench", title=title)

    return single, broadcast


def _tutorial() -> tuple[Send, Send]:
    from bench.tutorial.models import Notification

    def single(users: list[Any], title: str) -> None:
        Notification.objects.create(recipient=users[0], title=title)

    def broadcast(users: list[Any], title: str) -> None:
        for user in users:
            Notification.objects.create(recipient=user, title=title)

    return single, broadcast


class Sender:
    def __init__(self, app: str) -> None:
        self.single, self.broadcast_to = _ours() if app == "ours" else _tutorial()
        self.users: list[Any] = []

    def setup(self, users: int) -> dict[str, Any]:
        """Migrate the (empty) database, create the users, sign them in."""
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        from tests.servers import create_sessions

        call_command("migrate", verbosity=0)
        model = get_user_model()
        model.objects.bulk_create(
            (model(username=f"bench{i:05d}") for i in range(users)), batch_size=1000
        )
        self.users = list(model.objects.order_by("pk"))
        return {"cookies": [session.header for session in create_sessions(self.users)]}

    def broadcast(self, users: int, title: str) -> dict[str, Any]:
        start = time.monotonic()
        self.broadcast_to(self.users[:users], title)
        return {"start": start, "end": time.monotonic()}

    def singles(self, plan: list[int], tag: str, rate: float | None) -> dict[str, Any]:
        """Notification i goes to user plan[i], titled f"{tag}:{i}"; at `rate` per second, or flat out."""
        sent = []
        begin = time.monotonic()
        for i, user in enumerate(plan):
            if rate:
                delay = begin + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            sent.append(time.monotonic())
            self.single([self.users[user]], f"{tag}:{i}")
        return {"sent": sent, "end": time.monotonic()}


def main() -> None:
    app = sys.argv[1]
    import django

    django.setup()
    sender = Sender(app)
    out = sys.stdout
    sys.stdout = sys.stderr  # only answers go to the real stdout
    out.write(json.dumps({"ready": os.getpid()}) + "\n")
    out.flush()
    for line in sys.stdin:
        command = json.loads(line)
        name = command.pop("cmd")
        if name == "quit":
            break
        answer = getattr(sender, name)(**command)
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
