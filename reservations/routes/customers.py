"""Routes: customer sign-up, login and account (product API)."""

from __future__ import annotations

from litestar import get, post
from litestar.params import FromPath, JSONBody
from litestar.types import ControllerRouterHandler

from core.deps import ConnDep, PrincipalDep
from core.schemas import StrictBody, parse_uuid
from reservations.schemas.customers import CustomerAccount, CustomerCreate, Session, SessionCreate
from reservations.service import customers


@post(
    "/api/customers",
    dto=StrictBody[CustomerCreate],
    return_dto=None,
    status_code=201,
    operation_id="createCustomer",
    tags=["customers"],
    summary="Sign up; returns the customer and a token",
)
async def create_customer(conn: ConnDep, data: JSONBody[CustomerCreate]) -> Session:
    return await customers.create_customer(conn, name=data.name, email=data.email, password=data.password)


@post(
    "/api/sessions",
    dto=StrictBody[SessionCreate],
    return_dto=None,
    status_code=200,
    operation_id="createSession",
    tags=["customers"],
    summary="Log in with email and password",
)
async def create_session(conn: ConnDep, data: JSONBody[SessionCreate]) -> Session:
    return await customers.open_session(conn, email=data.email, password=data.password)


@get(
    "/api/customers/{customer_id:str}",
    operation_id="getCustomer",
    tags=["customers"],
    summary="A customer's account and purchases (that customer or the organizer)",
)
async def get_customer(conn: ConnDep, principal: PrincipalDep, customer_id: FromPath[str]) -> CustomerAccount:
    cid = parse_uuid(customer_id, field="customer_id")
    principal.require_self_or_admin(cid)
    return await customers.get_account(conn, customer_id=cid)


route_handlers: list[ControllerRouterHandler] = [create_customer, create_session, get_customer]
