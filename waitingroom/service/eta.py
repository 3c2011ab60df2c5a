"""Estimated wait: position over the observed admission rate."""

from __future__ import annotations

import math


def eta_seconds(
    *,
    position: int | None,
    rate: float,
    state: str,
    now_ms: int,
    open_at_ms: int,
    max_admit_per_s: int,
) -> int | None:
    """Seconds until admission, or None when no honest estimate exists.

    - before the opening: time to the opening, plus the position at the highest rate;
    - open: position / observed rate (admissions per second over the last 30 s);
    - paused, sold out, closed, or nobody admitted lately: None.
    """
    if state == "scheduled":
        until_open = max(0, math.ceil((open_at_ms - now_ms) / 1000))
        if position is None:
            return until_open
        return until_open + math.ceil(position / max(1, max_admit_per_s))
    if state != "open" or position is None or rate <= 0:
        return None
    return math.ceil(position / rate)


def beyond_stock(*, position: int | None, reach: int, state: str) -> bool:
    """Whether more visitors are ahead than the tickets not yet sold, held or promised can
    admit (`reach`, recorded by the tick): the turn then comes only if some of them do not
    buy, so no honest time exists. `reach` -1: not measured (no tick of the open room yet)."""
    return state == "open" and position is not None and reach >= 0 and position > reach


# The measured rate moves as holds are paid for, abandoned and expire: the range says so.
LOW, HIGH = 0.8, 1.25


def eta_range(eta_s: int | None) -> list[int] | None:
    """The honest form of an estimate: [low, high] seconds around it (None stays None)."""
    if eta_s is None:
        return None
    return [math.floor(eta_s * LOW), max(1, math.ceil(eta_s * HIGH))]
