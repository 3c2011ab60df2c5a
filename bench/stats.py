"""Percentiles and Kendall's tau, without numpy."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of unsorted values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(values_s: Sequence[float]) -> dict[str, float | int | None]:
    """n, p50, p95, p99 and max of durations given in seconds, in milliseconds."""
    ms = [v * 1000 for v in values_s]
    return {
        "n": len(ms),
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "max": max(ms) if ms else None,
    }


def _count_inversions(seq: list[int]) -> int:
    """Pairs i < j with seq[i] > seq[j], by merge sort: O(n log n)."""
    inversions = 0
    width = 1
    n = len(seq)
    src = list(seq)
    while width < n:
        dst: list[int] = []
        for lo in range(0, n, 2 * width):
            mid, hi = min(lo + width, n), min(lo + 2 * width, n)
            i, j = lo, mid
            while i < mid and j < hi:
                if src[i] <= src[j]:
                    dst.append(src[i])
                    i += 1
                else:
                    dst.append(src[j])
                    inversions += mid - i
                    j += 1
            dst.extend(src[i:mid])
            dst.extend(src[j:hi])
        src = dst
        width *= 2
    return inversions


def kendall_tau(first: Sequence[float], second: Sequence[float]) -> float | None:
    """Kendall's tau-a between two rankings of the same items (no ties): 1.0 when the
    orders agree exactly, -1.0 when one is the reverse of the other. None below 2 items."""
    n = len(first)
    if n != len(second):
        raise ValueError("both rankings must cover the same items")
    if n < 2:
        return None
    by_first = [b for _, b in sorted(zip(first, second, strict=True))]
    ranks = {v: i for i, v in enumerate(sorted(by_first))}
    if len(ranks) != n or len(set(first)) != n:
        raise ValueError("rankings must not have ties")
    inversions = _count_inversions([ranks[v] for v in by_first])
    pairs = n * (n - 1) // 2
    return 1.0 - 2.0 * inversions / pairs
