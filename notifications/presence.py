"""Which users have a socket open, in any server process: asked by Web Push before it pushes.

The consumer calls ``admit(user_pk, elsewhere)`` (``connected()`` under the cap) and
``disconnected(user_pk)``; senders call ``online(user_pks)``.

Stored in the database, table ``notifications_presence``: one row per (server process, user) holding
how many sockets that process has open for that user, and a heartbeat. The database, not Redis, because
it is the one store every deployment of this app shares between processes: daphne and a shell over
the in-memory layer (the demo) as much as several daphne processes over channels-redis. Connecting
costs no query of its own: the consumer counts in memory (the cap's count of the user's sockets in
other processes, ``elsewhere()``, rides on the connect's one trip to the database), and one writer
thread per process writes the changed counts right after, together (a storm of connects becomes a few
transactions of two statements, off the consumers' database thread), plus one UPDATE per serving
process every ``HEARTBEAT`` seconds. A process that exits cleanly deletes its rows (daphne on
SIGTERM cancels its consumers without ``disconnect()``); one killed or crashed leaves rows whose
heartbeat stops: after ``EXPIRY`` seconds they no longer count, and the next heartbeat of any serving
process deletes them. Counts per
process and user make the cap on sockets per user across processes (``MAX_CONNECTIONS_PER_USER``) a
SUM away: ``elsewhere()`` and ``admit()``.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, connections, transaction
from django.db.models import Sum
from django.utils import timezone

from notifications.conf import app_settings
from notifications.models import Presence

__all__ = ["EXPIRY", "HEARTBEAT", "admit", "connected", "disconnected", "elsewhere", "online"]

logger = logging.getLogger("notifications.presence")

#: Seconds between two refreshes of a serving process's rows.
HEARTBEAT = 60.0
#: Seconds after its last heartbeat that a process's sockets stop counting (it died).
EXPIRY = 180.0
#: Seconds before a failed write (database down) is tried again.
RETRY = 5.0
#: Seconds the writer waits after a change for others to write with it (a storm of connects).
GATHER = 0.05
#: Most seconds an exit waits for a write in progress before it deletes the process's rows.
EXIT_WAIT = 5.0


class _Counts:
    """This process's sockets per user, the users whose count is not yet written, and the writer's
    wake-up call. One per process (``_state``); its writer thread holds on to it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sockets: Counter[Any] = Counter()
        self.dirty: set[Any] = set()
        self.wake = threading.Event()
        self.writer: int | None = None  # the pid whose writer thread runs
        self.exiting = False  # set at exit: the rows are deleted, nothing is written again
        self.writing = threading.Lock()  # held by a flush's write and by the delete at exit


_state = _Counts()
_identity: tuple[int, str] | None = None


def process_id() -> str:
    """This server process's name in the table: host, pid and a random part (pids are reused)."""
    global _identity
    pid = os.getpid()
    if _identity is None or _identity[0] != pid:
        _identity = (pid, f"{socket.gethostname()[:40]}:{pid}:{secrets.token_hex(4)}")
    return _identity[1]


def connected(user_pk: Any) -> int:
    """A socket of the user opened in this process: counted now, written by the writer thread; the
    user's sockets in this process.

    Plain functions, no I/O: the consumer calls ``disconnected()`` from the ``finally`` that ends it,
    so a socket whose handler raised, or that daphne cancelled on shutdown, is still uncounted.
    """
    return _change(user_pk, 1)


def disconnected(user_pk: Any) -> None:
    """A socket of the user closed in this process."""
    _change(user_pk, -1)


def admit(user_pk: Any, elsewhere: int) -> bool:
    """Count a new socket of the user, as ``connected()``, unless that puts the user's sockets over
    ``MAX_CONNECTIONS_PER_USER``, with ``elsewhere`` open in other processes: then leave it uncounted
    and return False.

    This process's own count is taken at once, so a burst of connects in one process never
    overshoots. Other processes count through their rows, written within milliseconds of a change:
    bursts in two processes at the same instant may overshoot by what opened in between. Rows of a
    process that died without closing its sockets count until they expire (``EXPIRY``).
    """
    here = connected(user_pk)
    cap = app_settings.MAX_CONNECTIONS_PER_USER
    if cap is None or here + elsewhere <= cap:
        return True
    disconnected(user_pk)
    return False


def elsewhere(user_pks: Iterable[Any]) -> dict[Any, int]:
    """The sockets of these users open in other live processes: one query, none without a cap."""
    pks = list(user_pks)
    if app_settings.MAX_CONNECTIONS_PER_USER is None or not pks:
        return {}
    cutoff = timezone.now() - timedelta(seconds=EXPIRY)
    rows = (
        Presence.objects.filter(user_id__in=pks, heartbeat__gte=cutoff)
        .exclude(process=process_id())
        .values_list("user_id")
        .annotate(total=Sum("sockets"))
    )
    return dict(rows)


def online(user_pks: Iterable[Any]) -> set[Any]:
    """The users among ``user_pks`` with a socket open in a live process: one query."""
    pks = list(user_pks)
    if not pks:
        return set()
    cutoff = timezone.now() - timedelta(seconds=EXPIRY)
    rows = Presence.objects.filter(user_id__in=pks, heartbeat__gte=cutoff)
    return set(rows.values_list("user_id", flat=True))


def _change(user_pk: Any, delta: int) -> int:
    """Add `delta` to the user's sockets in this process; their new number."""
    state = _state
    with state.lock:
        count = max(0, state.sockets[user_pk] + delta)
        if count:
            state.sockets[user_pk] = count
        else:
            state.sockets.pop(user_pk, None)
        state.dirty.add(user_pk)
        start = state.writer != os.getpid()
        state.writer = os.getpid()
    if start:
        atexit.register(_forget, state)
        threading.Thread(
            target=_write_forever, args=(state,), name="notifications-presence", daemon=True
        ).start()
    state.wake.set()
    return count


def flush(state: _Counts | None = None) -> None:
    """Write the counts that changed since the last flush (the writer thread calls it): one
    transaction, a DELETE for the users with no socket left and one upsert for the others."""
    state = state or _state
    with state.writing:
        with state.lock:
            counts = {pk: state.sockets.get(pk, 0) for pk in state.dirty}
            state.dirty.clear()
            if state.exiting:
                return
        if not counts:
            return
        try:
            try:
                with transaction.atomic():
                    _write(counts)
            except IntegrityError:
                # A user was deleted while a socket of theirs was open: the others, one at a time.
                for user_pk, count in counts.items():
                    try:
                        with transaction.atomic():
                            _write({user_pk: count})
                    except IntegrityError:
                        logger.info("Presence of user %s not recorded: the user is gone.", user_pk)
        except Exception:
            with state.lock:
                state.dirty.update(counts)  # written on the next wake-up or heartbeat
            raise


def _write(counts: dict[Any, int]) -> None:
    process = process_id()
    gone = [user_pk for user_pk, count in counts.items() if not count]
    if gone:
        Presence.objects.filter(process=process, user_id__in=gone).delete()
    now = timezone.now()
    rows = [
        Presence(process=process, user_id=user_pk, sockets=count, heartbeat=now)
        for user_pk, count in counts.items()
        if count
    ]
    if rows:
        Presence.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["process", "user"],
            update_fields=["sockets", "heartbeat"],
        )


def _forget(state: _Counts) -> None:
    """At this process's exit, delete its rows: its users stop counting as online at once, not
    EXPIRY seconds later (Web Push would skip them meanwhile)."""
    if state.writer != os.getpid():
        return  # a forked child: the rows are its parent's
    # A write in progress ends first, so that it cannot put rows back after the delete; one that
    # hangs (the database down) does not hold the exit up for long.
    held = state.writing.acquire(timeout=EXIT_WAIT)
    with state.lock:
        state.exiting = True
    try:
        Presence.objects.filter(process=process_id()).delete()
    except Exception as exc:
        # Nothing to act on (the database is gone or down at exit): the rows expire as a killed
        # process's do.
        logger.info(
            "Could not delete this process's presence at exit (%s: %s); it expires in %s s.",
            type(exc).__name__,
            exc,
            EXPIRY,
        )
    finally:
        if held:
            state.writing.release()


def beat(state: _Counts | None = None) -> None:
    """Refresh this process's rows (rewriting any that were lost) and delete expired ones."""
    state = state or _state
    now = timezone.now()
    with state.lock:
        counts = dict(state.sockets)
    if not counts:
        return
    mine = Presence.objects.filter(process=process_id())
    if mine.update(heartbeat=now) != len(counts):
        # Deleted as expired while this process stalled longer than EXPIRY: write them again.
        with state.lock:
            state.dirty.update(counts)
        flush(state)
    Presence.objects.filter(heartbeat__lt=now - timedelta(seconds=EXPIRY)).delete()


def _write_forever(state: _Counts) -> None:
    next_beat = time.monotonic() + HEARTBEAT
    while True:
        if state.wake.wait(max(0.0, next_beat - time.monotonic())):
            time.sleep(GATHER)
        state.wake.clear()
        try:
            flush(state)
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + HEARTBEAT
                beat(state)
        except Exception as exc:
            logger.warning(
                "Could not write presence (%s: %s); retrying in %s s.",
                type(exc).__name__,
                exc,
                RETRY,
            )
            time.sleep(RETRY)  # the database is down: do not spin
            state.wake.set()
        finally:
            connections.close_all()  # this thread's own connection, idle until the next change
