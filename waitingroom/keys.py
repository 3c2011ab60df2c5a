"""Every Redis key, channel name and arq job id of the waiting room.

One event's keys share the hash tag `{event_id}`, so a Redis Cluster keeps them in one
slot and a Lua script may touch all of them. The only key without a tag is the index of
events with a live queue, read by the per-second tick.
"""

from __future__ import annotations

from uuid import UUID

_PREFIX = "cp:wr"


# The waiting room's job, by the name the worker registers it under (jobs/tasks/waitingroom.py).
ADVANCE_JOB = "waitingroom.advance"
# Writes and queues the "your turn" email of one admitted visitor who left an address.
NOTIFY_TURN_JOB = "waitingroom.notify_turn"


def _k(event_id: UUID | str, name: str) -> str:
    return f"{_PREFIX}:{{{event_id}}}:{name}"


def queue(event_id: UUID | str) -> str:
    """Sorted set: customer id -> place score (pre-queue < 2^52 <= after opening)."""
    return _k(event_id, "queue")


def sequence(event_id: UUID | str) -> str:
    """Counter: arrival sequence of the queue."""
    return _k(event_id, "seq")


def admitted(event_id: UUID | str) -> str:
    """Sorted set: customer id -> expiry (ms) of the admission not yet used."""
    return _k(event_id, "admitted")


def admission_ids(event_id: UUID | str) -> str:
    """Hash: customer id -> "<jti>:<expiry ms>" of the admission not yet used."""
    return _k(event_id, "jti")


def in_transit(event_id: UUID | str) -> str:
    """Sorted set: "<customer>:<jti>" -> time (ms) the admission was used; the hold it
    pays for may not be committed yet, so the admission job still counts it a while."""
    return _k(event_id, "transit")


def done(event_id: UUID | str) -> str:
    """Hash: customer or visitor id -> "used:<ms>" | "expired:<ms>": how their last admission
    ended, so their pages show it instead of joining again (cleared by a new join)."""
    return _k(event_id, "done")


def owners(event_id: UUID | str) -> str:
    """Hash: customer id -> visitor id whose place the customer took over when signing in
    (so their other devices, signed in, find the same place)."""
    return _k(event_id, "owners")


def grace(event_id: UUID | str) -> str:
    """Hash: visitor id -> "offered:<deadline ms>" | "used:<ms>": the one chance to come back
    at the front of the line after a hold expired (GRACE_WINDOW_S); never offered twice."""
    return _k(event_id, "grace")


def notify(event_id: UUID | str) -> str:
    """Hash: visitor id -> email address to tell "your turn" when admitted (optional)."""
    return _k(event_id, "notify")


def admission_log(event_id: UUID | str) -> str:
    """Sorted set: "<ms>:<n>:<first jti>" -> ms; admissions of the last minute (rate, per-second cap)."""
    return _k(event_id, "log")


def meta(event_id: UUID | str) -> str:
    """Hash: state, served (admitted in total), jti (admission counter), rate, first_ms."""
    return _k(event_id, "meta")


def seed(event_id: UUID | str) -> str:
    """String: the lottery seed (hex), secret until the sale opens."""
    return _k(event_id, "seed")


def draws(event_id: UUID | str) -> str:
    """Sorted set: customer id -> lottery draw, for everyone in the pre-queue of a lottery."""
    return _k(event_id, "draws")


def broadcast_gate(event_id: UUID | str) -> str:
    """Marker that lives BROADCAST_EVERY_MS after a tick was broadcast: the next tick is
    broadcast only once it is gone (or when the room's state changes)."""
    return _k(event_id, "bcast")


def pow_difficulty(event_id: UUID | str) -> str:
    """String: leading zero bits a join's proof of work needs (absent or 0: none)."""
    return _k(event_id, "pow")


def pow_used(event_id: UUID | str, challenge_id: str) -> str:
    """Marker of a solved challenge, so a solution is good for one join."""
    return _k(event_id, f"pow:{challenge_id}")


def join_rate_ip(event_id: UUID | str, ip: str) -> str:
    return _k(event_id, f"rl:ip:{ip}")


def join_rate_customer(event_id: UUID | str, customer_id: UUID | str) -> str:
    return _k(event_id, f"rl:c:{customer_id}")


def live_events() -> str:
    """Set of event ids whose queue needs the per-second tick."""
    return f"{_PREFIX}:live"


def event_keys(event_id: UUID | str) -> list[str]:
    """The keys a full reset of one event's waiting room removes (tests, operators)."""
    return [
        queue(event_id),
        sequence(event_id),
        admitted(event_id),
        admission_ids(event_id),
        in_transit(event_id),
        admission_log(event_id),
        meta(event_id),
        seed(event_id),
        draws(event_id),
        done(event_id),
        owners(event_id),
        grace(event_id),
        notify(event_id),
        pow_difficulty(event_id),
        broadcast_gate(event_id),
    ]


def event_channel(event_id: UUID | str) -> str:
    """Channel of one event's waiting room: one broadcast per tick for every visitor."""
    return f"waitingroom.{event_id}"


def admissions_channel(event_id: UUID | str) -> str:
    """Channel of one event's admission tokens, one message per tick listing each admitted
    customer with their token. Only API processes subscribe to it (one subscription per
    event and process) and each hands a token to its own visitor's socket only."""
    return f"waitingroom.{event_id}.admissions"


def advance_job_id(event_id: UUID | str) -> str:
    """arq job id of `waitingroom.advance`: one queued or running advance per event."""
    return f"wr-advance:{event_id}"
