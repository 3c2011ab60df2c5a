"""Routes of the payments stub: `/v1/payment_methods` and `/v1/charges`."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from core.schemas import StrictBody, decode_json
from payments_stub.schemas import (
    Charge,
    ChargeCreate,
    ChargeList,
    PaymentMethod,
    PaymentMethodCreate,
    RefundCreate,
)
from payments_stub.service import ChargeStore

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Same key, same charge: a retry never charges twice.",
    ),
]


def _store(state: State) -> ChargeStore:
    store: ChargeStore = state.store
    return store


class PaymentMethodController(Controller):
    path = "/v1/payment_methods"
    tags = ["payment methods"]  # noqa: RUF012 (Litestar declares it an instance attribute)

    @post(
        "/",
        operation_id="createPaymentMethod",
        dto=StrictBody[PaymentMethodCreate],
        return_dto=None,
        status_code=201,
        sync_to_thread=False,
    )
    def create_payment_method(self, state: State, data: JSONBody[PaymentMethodCreate]) -> PaymentMethod:
        """Tokenise a card: called by the web app's page (CORS), so the number goes from
        the browser to the provider and nowhere else."""
        return _store(state).create_payment_method(data.card_number)


class ChargeController(Controller):
    path = "/v1/charges"
    tags = ["charges"]  # noqa: RUF012 (Litestar declares it an instance attribute)

    @post("/", operation_id="createCharge", dto=StrictBody[ChargeCreate], return_dto=None)
    async def create_charge(
        self, state: State, data: JSONBody[ChargeCreate], idempotency_key: IdempotencyKey = None
    ) -> Response[Charge]:
        charge, created = await _store(state).create_charge(data, idempotency_key=idempotency_key)
        headers = {} if created else {"Idempotent-Replayed": "true"}
        return Response(charge, status_code=201, headers=headers)

    @get("/", operation_id="listCharges")
    async def list_charges(
        self,
        state: State,
        description: FromQuery[str | None] = None,
        charge_status: Annotated[str | None, QueryParameter(name="status")] = None,
    ) -> ChargeList:
        charges = _store(state).list_charges(description=description, status=charge_status)
        return ChargeList(total=len(charges), charges=charges)

    @get("/{charge_id:str}", operation_id="getCharge")
    async def get_charge(self, state: State, charge_id: FromPath[str]) -> Charge:
        return _store(state).get_charge(charge_id)

    @post("/{charge_id:str}/refund", operation_id="refundCharge", status_code=200)
    async def refund_charge(
        self,
        state: State,
        request: Request[Any, Any, Any],
        charge_id: FromPath[str],
        idempotency_key: IdempotencyKey = None,
    ) -> Charge:
        raw = await request.body()
        body = decode_json(raw, RefundCreate) if raw.strip() else RefundCreate()
        return await _store(state).refund_charge(
            charge_id, amount_cents=body.amount_cents, idempotency_key=idempotency_key
        )


@get("/health", operation_id="health", tags=["operations"], sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


route_handlers: list[ControllerRouterHandler] = [PaymentMethodController, ChargeController, health]
