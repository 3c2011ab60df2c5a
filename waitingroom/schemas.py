"""Schemas of the waiting room: inputs are strict Structs, outputs `Out`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from core.schemas import Out, Struct

QueueStatusName = Literal["waiting", "admitted", "sold_out", "used", "expired"]
RoomState = Literal["scheduled", "open", "paused", "sold_out", "closed"]


class QueueJoin(Struct, frozen=True, kw_only=True):
    """Optional body of a join: the solved proof of work, when the event asks for one, and
    `again` to take a new place after an admission that was used or expired (without it,
    such a visitor is told how their admission ended, and keeps no place)."""

    pow_challenge: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    pow_nonce: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    again: bool = False


class QueueStatus(Out, frozen=True, kw_only=True):
    """A visitor's place. `position` counts the visitors ahead plus one; it is null while a
    lottery pre-queue waits for its draw at the opening. `used` / `expired`: no place, and
    the last admission was used by a hold (maybe in another tab) or expired unused
    (`done_at` says when). `blocked`: the room is open but every ticket left is held or
    promised, so nobody is admitted until one comes back (`eta_s` is then null).
    `visitor_token` answers an anonymous join: send it back as the bearer token.
    `beyond_stock`: more visitors are ahead than the tickets left not held or promised can
    admit, so the turn comes only if some of them do not buy (`eta_s` is then null).
    `grace_until` (status `used`, the hold expired): until then the visitor may come back
    once at the front of the line (`POST .../queue/return`)."""

    status: QueueStatusName
    position: int | None
    eta_s: int | None
    eta_range_s: list[int] | None = None
    rate: float = 0.0
    blocked: bool = False
    beyond_stock: bool = False
    done_at: dt.datetime | None = None
    grace_until: dt.datetime | None = None
    visitor_token: str | None = None
    admission_token: str | None = None
    admission_expires_at: dt.datetime | None = None
    state: RoomState
    sales_open_at: dt.datetime | None
    prequeue: Literal["fifo", "lottery"]
    lottery_commitment: str | None = None
    lottery_seed: str | None = None


class TurnEmailSet(Struct, frozen=True, kw_only=True):
    """The address to tell "your turn" (null: forget it)."""

    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254)] | None


class TurnEmail(Out, frozen=True, kw_only=True):
    email: str | None


class PowChallenge(Out, frozen=True, kw_only=True):
    """Find a `nonce` such that SHA-256(challenge + nonce) starts with `difficulty` zero bits."""

    challenge: str
    difficulty: int
    algorithm: str
    expires_at: dt.datetime
    visitor_token: str | None = None  # asked without a token: the new visitor it is bound to


class LotteryInfo(Out, frozen=True, kw_only=True):
    commitment: str
    seed: str | None
    revealed: bool
    participants: int


class WaitingRoomStats(Out, frozen=True, kw_only=True):
    event_id: UUID
    state: RoomState
    paused: bool
    admission_factor: float
    max_admit_per_s: int
    prequeue: Literal["fifo", "lottery"]
    sales_open_at: dt.datetime | None
    waiting: int
    admitted_outstanding: int
    admissions_in_transit: int
    admitted_total: int
    rate: float
    capacity: int
    sold: int
    held: int
    available: int
    admission_limit: int
    pow_difficulty: int
    lottery: LotteryInfo | None


class WaitingRoomPatch(Struct, frozen=True, kw_only=True):
    """Organizer controls; an absent or null field keeps its value."""

    paused: bool | None = None
    admission_factor: Annotated[float, msgspec.Meta(gt=0, le=10)] | None = None
    max_admit_per_s: Annotated[int, msgspec.Meta(ge=1, le=100_000)] | None = None
    pow_difficulty: Annotated[int, msgspec.Meta(ge=0, le=28)] | None = None


class LotteryDraws(Out, frozen=True, kw_only=True):
    """The published pre-queue draws, in queue order, once the seed is revealed."""

    event_id: UUID
    prequeue: Literal["fifo", "lottery"]
    commitment: str | None
    seed: str | None
    revealed: bool
    participants: int
    offset: int
    draws: list[str]
