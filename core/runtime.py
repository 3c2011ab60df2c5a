"""How a long-running process (the API, a worker) treats its heap once it has started."""

from __future__ import annotations

import gc

# A young-generation collection after this many new container objects (CPython: 700).
YOUNG_THRESHOLD = 50_000
# An older generation after this many collections of the one below (CPython: 10 and 10).
OLDER_THRESHOLDS = (20, 20)
_settled = False


def settle_heap() -> None:
    """Freeze what startup built and collect garbage less often.

    Measured in the flash sale at 1/10 (docs/benchmarks.md): with CPython's defaults the API
    ran a full collection about once a second under load, each walking every live object
    (250 ms at first, ~90 ms once the startup heap was frozen) while every request waited —
    that pause was the accept path's p95 and p99 (194 / 256 ms against a p50 of 15 ms) and
    the WebSocket p99. Frozen, the startup heap (framework, routes, clients) is never walked
    again; with the higher thresholds, requests in flight are no longer promoted to the old
    generation a few hundred allocations at a time: one full collection in 25 s, p99 30 ms.
    The price is memory: garbage in cycles waits longer for a collection. In the waiting
    room at 1/10 (~3,000 sockets) the API peaked at 209 MiB against 183 with CPython's
    young threshold (`python -m bench.run waitingroom --scale 0.1 --no-record`); 10,000
    instead of 50,000 gave 207.
    Only the first call in a process does anything.
    """
    global _settled
    if _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
