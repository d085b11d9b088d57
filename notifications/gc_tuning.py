"""The GC_TUNING setting: a server process with thousands of sockets collects less often."""

import gc

# A young collection every 2000 allocations (CPython: 700) costs ~1 ms; larger ones grow past 20 ms.
GC_THRESHOLDS = (2_000, 10, 10)

_gc_tuned = False


def tune_gc() -> None:
    """Freeze what start-up allocated, so full collections stop scanning it, and collect less often.

    With thousands of sockets open, CPython's default thresholds make daphne run full collections of
    hundreds of thousands of objects (pauses of 100-600 ms); see docs/performance.md.
    """
    global _gc_tuned
    if _gc_tuned:
        return
    _gc_tuned = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
