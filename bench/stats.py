"""Percentiles and Kendall's tau, without numpy."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of unsorted values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(max(1, math.ceil(p / 100 * len(ordered))), len(ordered)) - 1]


def summary_ms(values_s: Sequence[float]) -> dict[str, float | int | None]:
    """n, p50, p95, p99 and max of durations given in seconds, in milliseconds."""
    ms = [v * 1000 for v in values_s]
    return {"n": len(ms), **{f"p{p}": percentile(ms, p) for p in (50, 95, 99)}, "max": max(ms, default=None)}


def kendall_tau(first: Sequence[float], second: Sequence[float]) -> float | None:
    """Kendall's tau-a between two rankings of the same items (no ties): 1.0 when the
    orders agree exactly, -1.0 when one is the reverse of the other. None below 2 items.
    The discordant pairs are counted with a Fenwick tree: O(n log n)."""
    n = len(first)
    if n != len(second):
        raise ValueError("both rankings must cover the same items")
    if len(set(first)) != n or len(set(second)) != n:
        raise ValueError("rankings must not have ties")
    if n < 2:
        return None
    rank = {v: i + 1 for i, v in enumerate(sorted(second))}
    tree = [0] * (n + 1)
    discordant = 0
    for seen, (_, b) in enumerate(sorted(zip(first, second, strict=True))):
        i = r = rank[b]
        while i > 0:  # items seen so far ranked at most r by `second`
            discordant -= tree[i]
            i -= i & -i
        discordant += seen
        while r <= n:
            tree[r] += 1
            r += r & -r
    return 1.0 - 4.0 * discordant / (n * (n - 1))
