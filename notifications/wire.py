"""What the consumer needs of the server under it: the bytes daphne holds unsent for a socket, and
receives that must end when the socket does."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

# Seconds an ending socket waits for its cancelled receives before it returns without them.
CANCEL_GRACE = 1.0


def retrieve(task: asyncio.Future[Any]) -> None:
    """Retrieve what the task ended with, so that it is not logged."""
    if not task.cancelled():
        task.exception()


# Strong references to the running _cancel_until_done() tasks (the loop keeps only weak ones).
_reapers: set[asyncio.Future[None]] = set()


async def _cancel_until_done(task: asyncio.Future[Any]) -> None:
    # A cancellation that meets redis-py's read timeout can be lost: the timeout turns it into a
    # TimeoutError, redis-py retries the read, and channels-redis's receive then blocks again, for
    # ever, as a reader of this process's channel. Asked again, it ends.
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_GRACE)


def reap(task: asyncio.Future[Any]) -> None:
    """Cancel the task in the background until it ends."""
    reaper = asyncio.ensure_future(_cancel_until_done(task))
    _reapers.add(reaper)
    reaper.add_done_callback(_reapers.discard)


def daphne_transport(send: Any) -> Any:
    """The Twisted transport under daphne's ``send`` for one socket, or None on another server.

    daphne's ``send`` is ``partial(server.handle_reply, protocol)``; channels' session middleware wraps
    it in a method of an object that keeps it as ``real_send``.
    """
    for _ in range(8):
        if isinstance(send, functools.partial):
            return getattr(send.args[0], "transport", None) if send.args else None
        send = getattr(getattr(send, "__self__", None), "real_send", None)
        if send is None:
            return None
    return None


def unsent_bytes(transport_: Any) -> int:
    """Bytes daphne holds for a socket that its client has not taken yet.

    Writing never waits under daphne: a client that stops reading grows Twisted's write buffer (and
    only that), unbounded, until the ping timeout.
    """
    total = 0
    while transport_ is not None:  # TLS wraps the TCP transport
        data = getattr(transport_, "dataBuffer", None)
        if isinstance(data, bytes):
            total += len(data) - int(getattr(transport_, "offset", 0))
            total += int(getattr(transport_, "_tempDataLen", 0))
        transport_ = getattr(transport_, "transport", None)
    return total
