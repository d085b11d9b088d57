"""The base of the delivery channels: the live socket, Web Push, email, or a project's own."""

from __future__ import annotations

from collections.abc import Sequence

from notifications.models import Notification


class DeliveryBackend:
    """One delivery channel. Subclass it, set ``name`` and implement ``deliver()``.

    ``name`` is the channel the user's preferences name ("in_app", "push", "email", or a channel of
    your own, which is then always on). ``deliver()`` runs after the notifications are committed, in
    the thread that committed them: a slow channel hands its work to a task queue. An exception it
    raises is logged and never reaches ``notify()`` or the other backends.
    """

    name: str = ""

    def enqueue(self, notifications: Sequence[Notification], using: str) -> None:
        """Queue work in the database, in the transaction that creates these notifications.

        Optional. It commits or rolls back with them (nothing lost if the process dies at commit) and
        costs no transaction of its own; keep it to a statement or two. Unlike ``deliver()``, what it
        raises reaches ``notify()``, whose transaction then rolls back: nothing half done.
        """

    def deliver(self, notifications: Sequence[Notification]) -> None:
        """Deliver these committed notifications (any recipients, any categories)."""
        raise NotImplementedError("A DeliveryBackend must implement deliver().")
