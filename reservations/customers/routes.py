"""Routes: customer sign-up, login and account (product API)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody
from litestar.types import ControllerRouterHandler

from core.addresses import client_address
from core.deps import ConnDep, PrincipalDep, RedisDep
from core.errors import error_responses
from core.schemas import StrictBody
from reservations.customers import service as customers
from reservations.customers.schemas import CustomerAccount, CustomerCreate, Session, SessionCreate
from reservations.limits import limit_signups


class CustomerController(Controller):
    path = "/api/customers"

    @post(
        "/",
        dto=StrictBody[CustomerCreate],
        return_dto=None,
        status_code=201,
        guards=[limit_signups],
        responses=error_responses(400, 409, 429),
        operation_id="createCustomer",
        tags=["customers"],
        summary="Sign up; returns the customer and a token",
    )
    async def create_customer(self, conn: ConnDep, data: JSONBody[CustomerCreate]) -> Session:
        return await customers.create_customer(conn, name=data.name, email=data.email, password=data.password)

    @get(
        "/{customer_id:uuid}",
        operation_id="getCustomer",
        tags=["customers"],
        summary="A customer's account and purchases (that customer or the organizer)",
    )
    async def get_customer(
        self, conn: ConnDep, principal: PrincipalDep, customer_id: FromPath[UUID]
    ) -> CustomerAccount:
        cid = customer_id
        principal.require_self_or_admin(cid)
        return await customers.get_account(conn, customer_id=cid)


class SessionController(Controller):
    path = "/api/sessions"

    @post(
        "/",
        dto=StrictBody[SessionCreate],
        return_dto=None,
        status_code=200,
        operation_id="createSession",
        responses=error_responses(400, 401, 429),
        tags=["customers"],
        summary="Log in with email and password",
    )
    async def create_session(
        self, conn: ConnDep, redis: RedisDep, request: Request[Any, Any, Any], data: JSONBody[SessionCreate]
    ) -> Session:
        return await customers.open_session(
            conn, redis, email=data.email, password=data.password, client_ip=client_address(request)
        )


route_handlers: list[ControllerRouterHandler] = [CustomerController, SessionController]
