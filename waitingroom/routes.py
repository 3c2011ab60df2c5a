"""Routes of the waiting room (API.md section 2, "Waiting room")."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, WebSocket, delete, get, patch, post, put, websocket
from litestar.channels import ChannelsPlugin
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT
from litestar.types import ControllerRouterHandler

from core.addresses import client_address
from core.deps import ConnDep, PrincipalDep, RedisDep, ResDep
from core.errors import error_responses
from core.schemas import StrictBody
from waitingroom import service
from waitingroom.schemas import (
    LotteryDraws,
    PowChallenge,
    QueueJoin,
    QueueStatus,
    TurnEmail,
    TurnEmailSet,
    WaitingRoomPatch,
    WaitingRoomStats,
)


class QueueController(Controller):
    path = "/api/events/{event_id:uuid}"
    tags = ["waiting room"]  # noqa: RUF012

    @post(
        "/queue",
        operation_id="joinQueue",
        status_code=HTTP_200_OK,
        dto=StrictBody[QueueJoin],
        return_dto=None,
        responses=error_responses(400, 401, 403, 404, 409, 429),
    )
    async def join(
        self,
        event_id: FromPath[UUID],
        request: Request[Any, Any, Any],
        conn: ConnDep,
        redis: RedisDep,
        data: JSONBody[QueueJoin | None] = None,
    ) -> QueueStatus:
        """Take one place in the queue; joining again returns the same place. Without a
        token the caller is a new anonymous visitor, and the answer carries their
        `visitor_token` (send it back as the bearer token)."""
        return await service.join_queue_as(
            conn,
            redis,
            event_id=event_id,
            caller=service.queue_caller(request, newcomer_ok=True),
            client_ip=client_address(request),
            body=data,
        )

    @get("/queue/me", operation_id="getQueuePlace", responses=error_responses(401, 403, 404, 409))
    async def me(
        self, event_id: FromPath[UUID], request: Request[Any, Any, Any], conn: ConnDep, redis: RedisDep
    ) -> QueueStatus:
        """The caller's place, admission token or sold-out news (fallback of the WebSocket)."""
        return await service.get_queue_place_as(
            conn, redis, event_id=event_id, caller=service.queue_caller(request)
        )

    @delete(
        "/queue/me",
        operation_id="leaveQueue",
        status_code=HTTP_204_NO_CONTENT,
        responses=error_responses(401, 403, 404, 409),
    )
    async def leave(
        self, event_id: FromPath[UUID], request: Request[Any, Any, Any], conn: ConnDep, redis: RedisDep
    ) -> None:
        """Leave the queue (or give up an unused admission)."""
        await service.leave_queue_as(conn, redis, event_id=event_id, caller=service.queue_caller(request))

    @post(
        "/queue/return",
        operation_id="returnToQueue",
        status_code=HTTP_200_OK,
        responses=error_responses(401, 403, 404, 409, 410),
    )
    async def come_back(
        self, event_id: FromPath[UUID], request: Request[Any, Any, Any], conn: ConnDep, redis: RedisDep
    ) -> QueueStatus:
        """After the caller's hold expired: come back once, at the front of the line, within
        the grace window (`grace_until` of `GET .../queue/me`). 409 `grace_used` the second
        time, 410 `grace_expired` after the window, 409 `grace_unavailable` with no offer."""
        return await service.return_to_queue_as(
            conn, redis, event_id=event_id, caller=service.queue_caller(request)
        )

    @put(
        "/queue/me/email",
        operation_id="setQueueEmail",
        dto=StrictBody[TurnEmailSet],
        return_dto=None,
        responses=error_responses(400, 401, 403, 404, 409),
    )
    async def turn_email(
        self,
        event_id: FromPath[UUID],
        data: JSONBody[TurnEmailSet],
        request: Request[Any, Any, Any],
        conn: ConnDep,
        redis: RedisDep,
    ) -> TurnEmail:
        """Optional: an address to tell "your turn" when the caller is admitted (null forgets
        it). Only while waiting; the email is queued to the mail worker after the admission."""
        return await service.set_turn_email_as(
            conn, redis, event_id=event_id, caller=service.queue_caller(request), email=data.email
        )

    @get("/queue/challenge", operation_id="getQueueChallenge", responses=error_responses(401, 403, 404, 409))
    async def challenge(
        self, event_id: FromPath[UUID], request: Request[Any, Any, Any], conn: ConnDep, redis: RedisDep
    ) -> PowChallenge:
        """A proof-of-work challenge to solve before joining (see docs/waiting-room.md); asked
        without a token, it comes with the new visitor's token it is bound to."""
        return await service.issue_pow_challenge_as(
            conn, redis, event_id=event_id, caller=service.queue_caller(request, newcomer_ok=True)
        )

    @get("/waiting-room", operation_id="getWaitingRoom", responses=error_responses(401, 403, 404, 409))
    async def stats(
        self, event_id: FromPath[UUID], conn: ConnDep, redis: RedisDep, principal: PrincipalDep
    ) -> WaitingRoomStats:
        """Organizer: queue length, admissions, rate, stock and the lottery commitment."""
        principal.require_admin()
        return await service.get_room_stats(conn, redis, event_id=event_id)

    @patch(
        "/waiting-room",
        operation_id="updateWaitingRoom",
        dto=StrictBody[WaitingRoomPatch],
        return_dto=None,
        responses=error_responses(400, 401, 403, 404, 409),
    )
    async def update(
        self,
        event_id: FromPath[UUID],
        data: JSONBody[WaitingRoomPatch],
        conn: ConnDep,
        redis: RedisDep,
        principal: PrincipalDep,
    ) -> WaitingRoomStats:
        """Organizer: pause or resume, admission factor, admissions per second, proof of work."""
        principal.require_admin()
        return await service.update_room(conn, redis, event_id=event_id, patch=data)

    @get("/waiting-room/lottery", operation_id="getLotteryDraws", responses=error_responses(400, 404, 409))
    async def lottery(
        self,
        event_id: FromPath[UUID],
        conn: ConnDep,
        redis: RedisDep,
        offset: Annotated[int, QueryParameter(ge=0, le=10_000_000)] = 0,
        limit: Annotated[int, QueryParameter(ge=0, le=10_000)] = 1000,
    ) -> LotteryDraws:
        """Public: the lottery commitment, and after the opening the seed and the draws."""
        return await service.list_lottery_draws(conn, redis, event_id=event_id, offset=offset, limit=limit)

    @websocket("/queue/ws")
    async def live(
        self,
        event_id: FromPath[UUID],
        socket: WebSocket[Any, Any, Any],
        res: ResDep,
        channels: NamedDependency[ChannelsPlugin],
    ) -> None:
        """Position and ETA at least every 2 s, the admission token, sold-out news."""
        await service.serve_queue_socket(
            socket, channels=channels, pool=res.pool, redis=res.redis, event_id=event_id
        )


route_handlers: list[ControllerRouterHandler] = [QueueController]
