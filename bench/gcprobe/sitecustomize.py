"""Injected into daphne by bench/transport_probe.py (first on PYTHONPATH): GC pauses and a profiler.

- ``PROBE_OUT=<file>``: every 0.5 s, writes each generation's collection count and longest pause, and
  every collection over 5 ms (generation, wall ms, unix time, CPU ms of the collecting thread).
  SIGUSR2 writes a census of the tracked objects to ``<file>.census``.
- ``PROBE_PROFILE=<file>``: SIGUSR1 starts cProfile in the main thread, the next SIGUSR1 stops it and
  writes the stats to the file.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import threading
import time
from collections import Counter
from typing import Any

_pauses: dict[int, list[tuple[float, float, float]]] = {0: [], 1: [], 2: []}
_start = [0.0, 0.0]


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _start[0], _start[1] = time.perf_counter(), time.thread_time()
    else:
        wall = (time.perf_counter() - _start[0]) * 1000
        cpu = (time.thread_time() - _start[1]) * 1000
        _pauses[info["generation"]].append((wall, time.time(), cpu))


def _dump(path: str) -> None:
    data: dict[str, Any] = {
        str(g): {"count": len(v), "max_ms": max((w for w, _, _ in v), default=0)}
        for g, v in _pauses.items()
    }
    data["slow"] = [(g, w, t, c) for g, v in _pauses.items() for w, t, c in v if w > 5 or c > 5]
    with open(path + ".tmp", "w") as f:
        json.dump(data, f)
    os.replace(path + ".tmp", path)


def _census(path: str) -> None:
    objects = gc.get_objects()
    top = Counter(type(o).__qualname__ for o in objects).most_common(25)
    with open(path + ".census", "w") as f:
        json.dump({"total": len(objects), "frozen": gc.get_freeze_count(), "top": top}, f)


if os.environ.get("PROBE_OUT"):
    _out = os.environ["PROBE_OUT"]
    gc.callbacks.append(_on_gc)

    def _loop() -> None:
        while True:
            time.sleep(0.5)
            _dump(_out)

    threading.Thread(target=_loop, daemon=True).start()
    signal.signal(signal.SIGUSR2, lambda signum, frame: _census(_out))

if os.environ.get("PROBE_PROFILE"):
    import cProfile

    _profile = cProfile.Profile()
    _profiling = [False]

    def _toggle(signum: int, frame: Any) -> None:
        if _profiling[0]:
            _profile.disable()
            _profile.dump_stats(os.environ["PROBE_PROFILE"])
        else:
            _profile.enable()
        _profiling[0] = not _profiling[0]

    signal.signal(signal.SIGUSR1, _toggle)
