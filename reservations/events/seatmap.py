"""Seat maps from a versioned snapshot.

Every committed change of an event's ticket states moves its stock version on
(`inventory/stock.py`, `stock_changed`). A seat map is a snapshot named by that version:
read from PostgreSQL once per version, kept in Redis (`keys.seat_map`, shared by every API
instance and the worker, so one version has one body and one ETag) and in each process,
where it is encoded once per version and format and gzipped once. A read costs one batched
Redis `GET` of the version while nothing changes.

Never stale: the version is read *before* the rows, so a snapshot is at least as new as
the version it is filed under; a reader that starts after a change's `stock_changed` sees
the new version and cannot be given a snapshot of an older one.

The live socket keeps pages current with deltas (`seat_changes`): the live push compares
the status letters it announced last (`keys.seat_map_pushed`, in seat id order) with the
current ones, read from PostgreSQL as one short string (`seat_statuses`); the seat ids are
read once per process. A push of a 50,000-seat map costs tens of milliseconds, not the
whole map's rows read, encoded and decoded again.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import uuid
from dataclasses import dataclass, field
from typing import Literal

import msgspec
from arq.connections import ArqRedis
from redis.exceptions import WatchError

from core.db import Connection, Pool
from core.redis import batcher_for
from reservations import keys
from reservations.events import service as events
from reservations.events.schemas import Seat, SeatChange, SeatMap, SeatMapRow, SeatMapSection, SeatStatus
from reservations.inventory.stock import stock_version

SeatFormat = Literal["list", "compact"]
SNAPSHOT_TTL_S = 24 * 3600
CACHED_EVENTS = 512  # snapshots kept per process
_CODE = {"AVAILABLE": "a", "IN_PROGRESS": "h", "BOOKED": "s"}
_STATUS: dict[str, SeatStatus] = {"a": "available", "h": "held", "s": "sold"}


class Snapshot(msgspec.Struct, frozen=True, array_like=True):
    """An event's labelled seats at one stock version, in map order, and a status letter
    per seat (`a`, `h`, `s`)."""

    version: int
    seats: list[tuple[uuid.UUID, str | None, str | None, int, int]]  # id, section, row, number, price
    status: str

    @property
    def etag(self) -> str:
        return str(self.version)


class _Pushed(msgspec.Struct, frozen=True, array_like=True):
    """What the live push announced last: the version, and a status letter per labelled
    seat in seat id order."""

    version: int
    status: str


_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(Snapshot)
_pushed_dec = msgspec.msgpack.Decoder(_Pushed)
_json = msgspec.json.Encoder()


@dataclass
class Encoded:
    """One snapshot's bodies, each made once: (format, gzipped) -> bytes."""

    snapshot: Snapshot
    bodies: dict[tuple[str, bool], bytes] = field(default_factory=dict)

    def body(self, fmt: SeatFormat, event_id: uuid.UUID, *, gzipped: bool) -> bytes:
        found = self.bodies.get((fmt, gzipped))
        if found is None:
            if gzipped:
                found = gzip.compress(self.body(fmt, event_id, gzipped=False), compresslevel=6, mtime=0)
            elif fmt == "compact":
                found = _json.encode(compact(self.snapshot, event_id))
            else:
                found = _json.encode(seat_list(self.snapshot))
            self.bodies[(fmt, gzipped)] = found
        return found


_cache: dict[uuid.UUID, Encoded] = {}
# Builds in flight by (event, the version their reader saw): a reader joins only a build for
# its own version, never one that started before a change it has seen.
_building: dict[tuple[uuid.UUID, int], asyncio.Future[Encoded]] = {}


def seat_list(snapshot: Snapshot, section: str | None = None) -> list[Seat]:
    return [
        Seat(id=i, section=s, row=r, number=n, price_cents=p, status=_STATUS[c])
        for (i, s, r, n, p), c in zip(snapshot.seats, snapshot.status, strict=True)
        if section is None or s == section
    ]


def compact(snapshot: Snapshot, event_id: uuid.UUID) -> SeatMap:
    sections: list[SeatMapSection] = []
    seats = list(zip(snapshot.seats, snapshot.status, strict=True))
    for name, group in itertools.groupby(seats, key=lambda seat: seat[0][1]):
        in_section = list(group)
        rows = []
        for label, in_row in itertools.groupby(in_section, key=lambda seat: seat[0][2]):
            row = list(in_row)
            rows.append(
                SeatMapRow(
                    label=label or "",
                    numbers=[s[3] for s, _ in row],
                    ids=[s[0] for s, _ in row],
                    status="".join(c for _, c in row),
                )
            )
        sections.append(SeatMapSection(name=name, price_cents=in_section[0][0][4], rows=rows))
    return SeatMap(event_id=event_id, version=snapshot.version, sections=sections)


async def _read(conn: Connection, *, event_id: uuid.UUID, version: int) -> Snapshot:
    """The snapshot from PostgreSQL (EventNotFound for an unknown event). An event without
    labelled seats has an empty map, and its ticket rows are not read."""
    event = await events.get_event(conn, event_id=event_id)
    rows = await conn.fetch(events.Q.list_seats, event_id, None) if event.seated else []
    return Snapshot(
        version=version,
        seats=[(r["id"], r["section"], r["row_label"], r["seat_number"], r["price_cents"]) for r in rows],
        status="".join(_CODE[r["status"]] for r in rows),
    )


async def _store(redis: ArqRedis, *, event_id: uuid.UUID, snapshot: Snapshot) -> Snapshot:
    """Keep `snapshot` as the event's newest unless a newer or equal one is there already
    (then that one is returned: one version, one body, in every process)."""
    key = keys.seat_map(event_id)
    async with redis.pipeline(transaction=True) as pipe:
        for _ in range(5):
            try:
                await pipe.watch(key)
                raw = await pipe.get(key)
                stored = _dec.decode(raw) if raw else None
                if stored is not None and stored.version >= snapshot.version:
                    return stored if stored.version == snapshot.version else snapshot
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.set(key, _enc.encode(snapshot), ex=SNAPSHOT_TTL_S)
                await pipe.execute()
                return snapshot
            except WatchError:  # another writer came first: look again
                continue
    return snapshot


async def current_snapshot(conn: Connection, redis: ArqRedis, *, event_id: uuid.UUID) -> Snapshot:
    """The snapshot of the event's current version: from Redis when some process built it,
    else from PostgreSQL (and kept for the others)."""
    version = await stock_version(redis, event_id=event_id)
    raw = await batcher_for(redis).command("GET", keys.seat_map(event_id))
    if raw:
        stored = _dec.decode(raw)
        if stored.version == version:
            return stored
    snapshot = await _store(
        redis, event_id=event_id, snapshot=await _read(conn, event_id=event_id, version=version)
    )
    # The first snapshot an event has is the base of its first delta: pages that loaded it
    # apply that delta instead of loading the map again.
    in_id_order = "".join(
        c for _, c in sorted(zip((s[0] for s in snapshot.seats), snapshot.status, strict=True))
    )
    first = _enc.encode(_Pushed(snapshot.version, in_id_order))
    await redis.set(keys.seat_map_pushed(event_id), first, nx=True, ex=SNAPSHOT_TTL_S)
    return snapshot


async def seat_map(pool: Pool, redis: ArqRedis, *, event_id: uuid.UUID) -> Encoded:
    """The event's seat map now: this process's copy while the version stands; otherwise
    built once per version (concurrent readers of one version wait for the same build; a
    build is at least as new as the version its readers saw)."""
    version = await stock_version(redis, event_id=event_id)
    cached = _cache.get(event_id)
    if cached is not None and cached.snapshot.version >= version:
        return cached
    building = _building.get((event_id, version))
    if building is not None:
        return await asyncio.shield(building)
    future: asyncio.Future[Encoded] = asyncio.get_running_loop().create_future()
    _building[(event_id, version)] = future
    try:
        async with pool.acquire() as conn:
            snapshot = await current_snapshot(conn, redis, event_id=event_id)
        encoded = Encoded(snapshot)
        cached = _cache.get(event_id)
        if cached is None or cached.snapshot.version < snapshot.version:  # an older build ends late
            if cached is None and len(_cache) >= CACHED_EVENTS:
                _cache.pop(next(iter(_cache)))
            _cache[event_id] = encoded
        future.set_result(encoded)
        return encoded
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved: waiters re-raise it, nobody else must
        raise
    finally:
        del _building[(event_id, version)]


async def seat_changes(
    conn: Connection, redis: ArqRedis, *, event_id: uuid.UUID
) -> tuple[int, int, list[SeatChange]] | None:
    """What changed since the last delta: (since version, version, changes), or None when
    nothing moved. What is announced becomes the next base. Without a base (the first
    push, or Redis lost it) `since` is 0: every page reloads the map. The version is read
    before the statuses, so they are at least as new as it."""
    version = await stock_version(redis, event_id=event_id)
    status: str = await conn.fetchval(events.Q.seat_statuses, event_id)
    raw = await redis.getset(keys.seat_map_pushed(event_id), _enc.encode(_Pushed(version, status)))
    await redis.expire(keys.seat_map_pushed(event_id), SNAPSHOT_TTL_S)
    try:
        base = _pushed_dec.decode(raw) if raw is not None else None
    except msgspec.DecodeError:  # a base of an older format: pages reload, as without one
        base = None
    if base is None:
        return 0, version, []
    if base.version >= version:
        return None
    ids = await _seat_ids(conn, event_id=event_id, count=len(status))
    if len(ids) != len(status):  # a seat dropped between the two reads: pages reload
        return 0, version, []
    if len(base.status) != len(status):  # not the same seats: every seat's status
        return (
            base.version,
            version,
            [SeatChange(id=i, status=_STATUS[c]) for i, c in zip(ids, status, strict=True)],
        )
    changes = [
        SeatChange(id=ids[n], status=_STATUS[new])
        for n, (old, new) in enumerate(zip(base.status, status, strict=True))
        if old != new
    ]
    return base.version, version, changes


# The labelled seat ids of recent events, in id order. Seats are made with their event and
# only ever dropped, so a list of the right length is the event's.
_ids: dict[uuid.UUID, list[uuid.UUID]] = {}


async def _seat_ids(conn: Connection, *, event_id: uuid.UUID, count: int) -> list[uuid.UUID]:
    ids = _ids.get(event_id)
    if ids is None or len(ids) != count:
        ids = [r["id"] for r in await conn.fetch(events.Q.seat_ids, event_id)]
        if event_id not in _ids and len(_ids) >= CACHED_EVENTS:
            _ids.pop(next(iter(_ids)))
        _ids[event_id] = ids
    return ids
