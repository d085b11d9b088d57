"""Warnings of outages: one line per kind of failure per interval, never one per socket.

When Redis or the database goes away, every socket of a process fails the same way at once: a warning
(and a traceback) each would bury the log. ``warn_once`` logs the first failure of a kind, then at
most one line per ``INTERVAL`` seconds saying how many more there were.
"""

from __future__ import annotations

import logging
import time
from typing import Any

INTERVAL = 10.0

_last: dict[str, tuple[float, int]] = {}


def warn_once(logger: logging.Logger, kind: str, message: str, *args: Any) -> None:
    """Log `message` at WARNING unless a warning of `kind` was logged in the last INTERVAL seconds."""
    now = time.monotonic()
    last, suppressed = _last.get(kind, (float("-inf"), 0))
    if now - last < INTERVAL:
        _last[kind] = (last, suppressed + 1)
        return
    _last[kind] = (now, 0)
    if suppressed:
        message += " (%d more like it in the last %.0f s)"
        args = (*args, suppressed, now - last)
    logger.warning(message, *args)
