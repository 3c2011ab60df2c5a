"""The visitor's WebSocket: position and ETA at least every 2 s, the admission token the
moment it is issued, sold-out news at once.

Fan-out is one broadcast per event per tick (`Tick`: state, served, waiting, rate) over
Litestar channels on Redis, so any API instance serves any visitor. Each socket works out
its position from the broadcast: the rank it last read exactly, minus the admissions
issued since (admissions always take the head of the queue), plus the grace returns since
(a returner goes to the head: service/grace.py). Leavers ahead make that an
upper bound, so the socket reads its exact rank again every RESYNC_MS, whenever no tick
came for PUSH_EVERY_S, and when a lottery's pre-queue is drawn. Admission tokens travel
on the event's admissions channel, to which only API processes subscribe: once per event
and process (`AdmissionRouter`), each token handed to its own visitor's sockets only.

A waitlist offer made to an anonymous visitor (reservations/waitlist/offers.py, through
`reservations.hooks.on_visitor_offer`) travels on the event's channel naming its visitor
(`call_visitor_with_offer`); only that visitor's sockets pass it on, as a `waitlist_offer`
message (offers are rare, so a broadcast every socket reads costs nothing worth a channel).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import msgspec
from litestar import WebSocket
from litestar.channels import ChannelsPlugin
from litestar.exceptions import WebSocketDisconnect
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.db import Pool
from core.errors import AppError
from core.realtime import publisher_for, resubscribed
from core.wstickets import redeem_ws_ticket
from waitingroom import keys
from waitingroom.service.admission import AdmissionBatch, Admitted
from waitingroom.service.eta import beyond_stock, eta_range, eta_seconds
from waitingroom.service.queue import Place, queue_owner, read_place
from waitingroom.service.store import RoomSettings, derive_state, load_room
from waitingroom.service.tokens import encode_admission, expires_at

PUSH_EVERY_S = 2.0
SOLD_OUT_RECHECK_S = 10.0  # sold out: no news to push; look again now and then for returns
RESYNC_MS = 15_000
CLOSE_ADMITTED = 1000
DISCONNECTED = None  # put in a socket's inbox when its client is gone
RESYNC = b"resync"  # put in every socket's inbox when pub/sub came back after a Redis loss

log = logging.getLogger("crowdpass.waitingroom")
Inbox = asyncio.Queue[bytes | None]


class _Visitor:
    """What one socket knows about its visitor between exact reads."""

    def __init__(self, settings: RoomSettings, customer_id: UUID) -> None:
        self.settings = settings
        self.customer_id = customer_id
        self.rank = 0
        self.served_at_read = 0
        self.returned_at_read = 0
        self.returned = 0
        self.reach = -1
        self.prequeue = False
        self.read_at = 0.0
        self.state = ""
        self.rate = 0.0
        self.blocked = False
        self.sold_out_sent = False

    def take(self, place: Place, now_ms: int) -> None:
        self.rank = place.rank
        self.served_at_read = place.served
        self.returned_at_read = self.returned = place.returned
        self.reach = place.reach
        self.prequeue = place.prequeue
        self.read_at = time.monotonic()
        self.rate = place.rate
        self.blocked = place.blocked
        recorded = place.recorded_state
        self.state = recorded or derive_state(self.settings, now_ms=now_ms, recorded=recorded)

    @property
    def drawn_at_opening(self) -> bool:
        """In a lottery's pre-queue: the rank is drawn when the sale opens."""
        return self.prequeue and self.settings.prequeue == "lottery"

    def position(self, served: int) -> int | None:
        if self.drawn_at_opening and self.state == "scheduled":
            return None
        moved_back = self.returned - self.returned_at_read
        return max(1, self.rank + 1 - (served - self.served_at_read) + moved_back)

    def message(self, served: int, now_ms: int) -> dict[str, Any] | None:
        """The next message for the page, or None when there is nothing new to say."""
        if self.state in ("sold_out", "closed"):
            if self.sold_out_sent:
                return None
            self.sold_out_sent = True
            return {"type": "sold_out", "state": self.state}
        self.sold_out_sent = False
        position = self.position(served)
        blocked = self.blocked and self.state == "open"
        beyond = not blocked and beyond_stock(position=position, reach=self.reach, state=self.state)
        eta = None
        if not blocked and not beyond:
            eta = eta_seconds(
                position=position,
                rate=self.rate,
                state=self.state,
                now_ms=now_ms,
                open_at_ms=self.settings.open_at_ms,
                max_admit_per_s=self.settings.max_admit_per_s,
            )
        return {
            "type": "position",
            "position": position,
            "eta_s": eta,
            "eta_range_s": eta_range(eta),
            "rate": self.rate,
            "blocked": blocked,
            "beyond_stock": beyond,
            "state": self.state,
        }

    def admitted(self, place: Place) -> dict[str, Any]:
        token = encode_admission(
            customer_id=self.customer_id,
            event_id=self.settings.event_id,
            jti=place.jti,
            expires_ms=place.expires_ms,
        )
        return {
            "type": "admitted",
            "admission_token": token,
            "admission_expires_at": expires_at(place.expires_ms).isoformat(),
        }


class _EventAdmissions:
    """One event's admissions subscription in this process and the sockets it serves."""

    def __init__(self) -> None:
        self.inboxes: dict[str, set[Inbox]] = {}  # customer id -> their sockets' inboxes
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None


_batch_decoder = msgspec.json.Decoder(AdmissionBatch)


class AdmissionRouter:
    """Admission tokens for the sockets of one API process: one subscription per event,
    each token put in the inbox of its own visitor's sockets here (if any).

    A channel per visitor would cost a Redis SUBSCRIBE and UNSUBSCRIBE per visitor, and
    Litestar's channels plugin scans every channel whenever a subscriber leaves: with
    ~5,000 sockets and 1,000 admissions a second that scan alone took a fifth of the API's
    time in the waiting-room benchmark."""

    def __init__(self, channels: ChannelsPlugin) -> None:
        self._channels = channels
        self._events: dict[UUID, _EventAdmissions] = {}

    @contextlib.asynccontextmanager
    async def listen(self, event_id: UUID, customer_id: UUID, inbox: Inbox) -> AsyncIterator[None]:
        """Deliver this customer's admissions to `inbox` while inside; subscribed on entry."""
        route = self._events.get(event_id)
        if route is None:
            route = self._events[event_id] = _EventAdmissions()
            route.task = asyncio.create_task(self._serve(event_id, route))
        mine = route.inboxes.setdefault(str(customer_id), set())
        mine.add(inbox)
        try:
            await route.ready.wait()
            yield
        finally:
            mine.discard(inbox)
            if not mine:
                route.inboxes.pop(str(customer_id), None)
            if not route.inboxes and self._events.get(event_id) is route:
                del self._events[event_id]
                if route.task is not None:
                    route.task.cancel()

    async def _serve(self, event_id: UUID, route: _EventAdmissions) -> None:
        try:
            async with self._channels.start_subscription([keys.admissions_channel(event_id)]) as sub:
                route.ready.set()
                async for data in sub.iter_events():
                    for a in _batch_decoder.decode(data).admitted:
                        inboxes = route.inboxes.get(a.customer_id)
                        if inboxes:  # encoded once, only for a visitor connected here
                            message = msgspec.json.encode(Admitted(a.admission_token, a.admission_expires_at))
                            for inbox in inboxes:
                                inbox.put_nowait(message)
        except Exception:
            # Sockets still learn of their admission by reading their place (RESYNC_MS).
            log.exception("admissions of event %s: subscription lost", event_id)
        finally:
            route.ready.set()
            if self._events.get(event_id) is route:
                del self._events[event_id]


_routers: weakref.WeakKeyDictionary[ChannelsPlugin, AdmissionRouter] = weakref.WeakKeyDictionary()


def admission_router(channels: ChannelsPlugin) -> AdmissionRouter:
    router = _routers.get(channels)
    if router is None:
        router = _routers[channels] = AdmissionRouter(channels)
    return router


async def call_visitor_with_offer(
    redis: Redis, event_id: UUID, visitor_id: UUID, message: dict[str, Any]
) -> None:
    """Put a waitlist offer on the sockets of the visitor it was made to (any API process)."""
    await publisher_for(redis).publish(keys.event_channel(event_id), {**message, "visitor": str(visitor_id)})


async def _send(socket: WebSocket[Any, Any, Any], message: dict[str, Any]) -> None:
    await socket.send_text(msgspec.json.encode(message).decode())


async def _wait_disconnect(socket: WebSocket[Any, Any, Any]) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while (await socket.receive())["type"] != "websocket.disconnect":
            continue


async def serve_queue_socket(
    socket: WebSocket[Any, Any, Any],
    *,
    channels: ChannelsPlugin,
    pool: Pool,
    redis: Redis,
    event_id: UUID,
) -> None:
    """Run one visitor's socket until they leave, are admitted, or disconnect.

    `?ticket=` is a one-use ticket from `POST /api/ws-tickets` (core/wstickets.py), issued
    to a customer, a visitor or both. Close codes: 4401 missing, unknown, used or expired
    ticket, 4404 unknown event or no place in the queue, 4409 no waiting room,
    1000 after the admission was sent, or after `{"type": "done", status: "used" |
    "expired"}` (the owner's admission was used, maybe in another tab, or expired).
    """
    await socket.accept()
    try:
        caller = await redeem_ws_ticket(redis, socket.query_params.get("ticket"))
        async with pool.acquire() as conn:
            settings = await load_room(conn, event_id=event_id)
        customer_id = await queue_owner(
            redis, event_id=event_id, customer_id=caller.customer_id, visitor_id=caller.visitor_id
        )
    except AppError as exc:
        await socket.close(code=4000 + exc.status_code, reason=exc.code)
        return

    visitor = _Visitor(settings, customer_id)
    # What the socket waits on: broadcasts, its own channel, and DISCONNECTED. One queue
    # and a timeout, not a task and asyncio.wait per message: every socket of the event
    # handles every broadcast tick.
    inbox: Inbox = asyncio.Queue()

    async def on_event(data: bytes) -> None:
        inbox.put_nowait(data)

    async with (
        channels.start_subscription([keys.event_channel(event_id)]) as subscriber,
        subscriber.run_in_background(on_event, join=False),
        admission_router(channels).listen(event_id, customer_id, inbox),
    ):
        stack = contextlib.ExitStack()  # ticks and admissions may have been missed meanwhile
        stack.enter_context(resubscribed(channels).listen(lambda: inbox.put_nowait(RESYNC)))
        disconnected = asyncio.create_task(_wait_disconnect(socket))
        disconnected.add_done_callback(lambda _: inbox.put_nowait(DISCONNECTED))
        try:
            await _run(socket, redis, visitor, inbox)
        except WebSocketDisconnect:
            pass
        finally:
            stack.close()
            disconnected.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await disconnected


async def _resync(socket: WebSocket[Any, Any, Any], redis: Redis, visitor: _Visitor) -> bool:
    """Read the exact place and push it; False when the socket is done. While Redis is
    away the socket stays open and reads again at the next push time."""
    try:
        place = await read_place(redis, event_id=visitor.settings.event_id, customer_id=visitor.customer_id)
    except (RedisError, OSError) as exc:
        log.info("place of a visitor not read (%s); trying again", exc)
        return True
    now_ms = int(time.time() * 1000)
    if place.kind == "admitted":
        await _send(socket, visitor.admitted(place))
        await socket.close(code=CLOSE_ADMITTED, reason="admitted")
        return False
    if place.kind == "done":
        await _send(socket, {"type": "done", "status": place.done})
        await socket.close(code=CLOSE_ADMITTED, reason="done")
        return False
    if place.kind == "none":
        await socket.close(code=4404, reason="not_in_queue")
        return False
    visitor.take(place, now_ms)
    message = visitor.message(place.served, now_ms)
    if message is not None:
        await _send(socket, message)
    return True


async def _run(socket: WebSocket[Any, Any, Any], redis: Redis, visitor: _Visitor, inbox: Inbox) -> None:
    # Subscribed before this first read, so an admission issued meanwhile is not missed.
    if not await _resync(socket, redis, visitor):
        return
    last_push = time.monotonic()
    while True:
        every = SOLD_OUT_RECHECK_S if visitor.sold_out_sent else PUSH_EVERY_S
        try:
            async with asyncio.timeout(max(0.0, every - (time.monotonic() - last_push))):
                data = await inbox.get()
        except TimeoutError:
            if not await _resync(socket, redis, visitor):
                return
            last_push = time.monotonic()
            continue
        if data is DISCONNECTED:
            return
        if data is RESYNC:
            if not await _resync(socket, redis, visitor):
                return
            last_push = time.monotonic()
            continue
        event = msgspec.json.decode(data)
        kind = event.get("type")
        if kind == "admitted":
            await _send(socket, event)
            await socket.close(code=CLOSE_ADMITTED, reason="admitted")
            return
        if kind == "waitlist_offer":
            if event.pop("visitor", None) == str(visitor.customer_id):
                await _send(socket, event)
            continue
        if kind != "tick":
            continue
        now_ms = int(time.time() * 1000)
        state = str(event["state"])  # the job read the event and the stock just now
        stale = (time.monotonic() - visitor.read_at) * 1000 >= RESYNC_MS
        if state in ("sold_out", "closed"):
            # Final news needs no position: tell at once, without a read per socket.
            visitor.state = state
            message = visitor.message(int(event["served"]), now_ms)
            if message is not None:
                await _send(socket, message)
        elif stale or (state != visitor.state and visitor.drawn_at_opening):
            # A pre-queue's places are drawn at the opening: read the drawn rank. Otherwise a
            # new state moves nobody (ranks only shrink as admissions take the head), so
            # every socket reading at once when the room opens would be a herd for nothing.
            if not await _resync(socket, redis, visitor):
                return
        else:
            visitor.state = state
            visitor.rate = float(event["rate"])
            visitor.blocked = bool(event.get("blocked", False))
            visitor.returned = max(visitor.returned, int(event.get("returned", 0)))
            visitor.reach = int(event.get("reach", -1))
            message = visitor.message(int(event["served"]), now_ms)
            if message is not None:
                await _send(socket, message)
        last_push = time.monotonic()
