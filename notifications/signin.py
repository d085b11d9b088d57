"""The connect's trip to the database: sign the session in and read the inbox, shared by connects.

The connects of one event loop that arrive while a trip runs share the next one (``SignIns``): a
storm of connects opens one database connection per trip, not per socket, and makes its four queries
for all of them. ``read_inbox()`` is also the socket's catch-up (a gap in seq, the sync pass, the
client's `sync`).
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from channels.db import database_sync_to_async

from notifications import api, presence, protocol, sessions
from notifications.conf import app_settings

# What a socket reads from the database: (unread, unseen) counts, last seq, (seq, frame)s to replay,
# reset?
Loaded = tuple[tuple[int, int], int, list[tuple[int, str]], bool]
# A session that signed in: its user, what the socket remembers of it, and the user's sockets open in
# other processes (presence.elsewhere(), for MAX_CONNECTIONS_PER_USER).
SignedIn = tuple[Any, sessions.SessionRef, int]
SignInRequest = tuple[str | None, int | None, bool]  # session key, since, read the inbox?


def read_inbox(user: Any, since: int | None, inbox: tuple[int, int, int] | None = None) -> Loaded:
    """The inbox (counts, last_seq) and the frames after `since`, or a reset past CATCH_UP_LIMIT."""
    # The inbox first: every seq up to its last_seq is committed, so the rows read next hold them.
    unread, unseen, last_seq = api.inbox_counts(user) if inbox is None else inbox
    counts = (unread, unseen)
    if since is None or since >= last_seq:
        # Nothing after `since` (a client that is up to date), or a client ahead of the server (a
        # reset): no rows to read.
        return counts, last_seq, [], since is not None and since > last_seq
    limit = app_settings.CATCH_UP_LIMIT
    rows = api.since(user, since, limit + 1)
    frames = [(n.seq, protocol.notification_frame(n)) for n in rows[:limit]]
    return counts, last_seq, frames, len(rows) > limit


def sign_in_and_read(requests: list[SignInRequest]) -> list[tuple[SignedIn | None, Loaded | None]]:
    """Sign the sessions in and read the inboxes of those that asked: four queries for all (plus
    one per socket with rows to replay). Runs in the database thread."""
    sessions_in = sessions.sign_in({key for key, _, _ in requests if key})
    others = presence.elsewhere(user.pk for user, _ in sessions_in.values())
    signed_in = {
        key: (user, ref, others.get(user.pk, 0)) for key, (user, ref) in sessions_in.items()
    }
    wanted = [signed_in[key][0].pk for key, _, read in requests if read and key in signed_in]
    inboxes = api.inboxes(wanted) if wanted else {}
    results: list[tuple[SignedIn | None, Loaded | None]] = []
    for key, since, read in requests:
        found = signed_in.get(key) if key else None
        if found is None or not read:
            results.append((found, None))
        else:
            user = found[0]
            results.append((found, read_inbox(user, since, inboxes.get(user.pk, (0, 0, 0)))))
    return results


class SignIns:
    """The connects of one event loop waiting for their trip to the database. One trip runs at a
    time, and those that arrive meanwhile share the next: a storm of connects opens one database
    connection per trip, not per socket, and makes its four queries for all of them."""

    def __init__(self) -> None:
        self.waiting: list[tuple[SignInRequest, asyncio.Future[Any]]] = []
        self.runner: asyncio.Task[None] | None = None

    async def run(
        self, key: str | None, since: int | None, *, read: bool
    ) -> tuple[SignedIn | None, Loaded | None]:
        future: asyncio.Future[tuple[SignedIn | None, Loaded | None]]
        future = asyncio.get_running_loop().create_future()
        self.waiting.append(((key, since, read), future))
        if self.runner is None:
            self.runner = asyncio.create_task(self._trips())
        return await future

    async def _trips(self) -> None:
        batch: list[tuple[SignInRequest, asyncio.Future[Any]]] = []
        try:
            while self.waiting:
                batch, self.waiting = self.waiting, []
                requests = [request for request, _ in batch]
                try:
                    results = await database_sync_to_async(sign_in_and_read)(requests)
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for (_, future), result in zip(batch, results, strict=True):
                        if not future.done():
                            future.set_result(result)
        finally:
            self.runner = None
            for _, future in [*batch, *self.waiting]:  # cancelled: the loop is closing
                future.cancel()


_sign_in_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SignIns] = (
    weakref.WeakKeyDictionary()
)


def sign_ins() -> SignIns:
    loop = asyncio.get_running_loop()
    current = _sign_in_queues.get(loop)
    if current is None:
        current = _sign_in_queues[loop] = SignIns()
    return current
