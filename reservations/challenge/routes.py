"""Routes: the challenge contract (API.md section 1), Portuguese paths and fields verbatim."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from core.deps import ConnDep, RedisDep
from core.errors import error_responses
from core.schemas import StrictBody
from reservations.challenge import service as challenge
from reservations.challenge.schemas import (
    Cliente,
    ClienteComCompras,
    ClienteCreate,
    Compra,
    CompraCreate,
    Evento,
    EventoCreate,
    PaginaDeCompras,
)
from reservations.limits import limit_event_creation

_TAGS = ["challenge"]


class ClienteController(Controller):
    path = "/clientes"

    @post(
        "/",
        dto=StrictBody[ClienteCreate],
        return_dto=None,
        status_code=201,
        operation_id="criarCliente",
        tags=_TAGS,
    )
    async def criar_cliente(self, conn: ConnDep, data: JSONBody[ClienteCreate]) -> Cliente:
        return await challenge.create_cliente(conn, nome=data.nome, email=data.email, cpf=data.cpf)

    # The contract writes these paths `/clientes/:id` and `/eventos/:id`: a malformed id is
    # a 400 naming the field `id`.
    @get("/{id:uuid}", operation_id="obterCliente", tags=_TAGS)
    async def obter_cliente(self, conn: ConnDep, id: FromPath[UUID]) -> ClienteComCompras:
        return await challenge.get_cliente(conn, cliente_id=id)


class EventoController(Controller):
    path = "/eventos"

    @post(
        "/",
        dto=StrictBody[EventoCreate],
        return_dto=None,
        status_code=201,
        operation_id="criarEvento",
        guards=[limit_event_creation],
        responses=error_responses(400, 429),
        tags=_TAGS,
    )
    async def criar_evento(self, conn: ConnDep, data: JSONBody[EventoCreate]) -> Evento:
        return await challenge.create_evento(
            conn, nome=data.nome, data=data.data, capacidade=data.capacidade, preco=data.preco
        )

    @get("/{id:uuid}", operation_id="obterEvento", tags=_TAGS)
    async def obter_evento(self, conn: ConnDep, redis: RedisDep, id: FromPath[UUID]) -> Evento:
        return await challenge.get_evento(conn, redis, evento_id=id)


class CompraController(Controller):
    path = "/compras"

    @post(
        "/",
        dto=StrictBody[CompraCreate],
        return_dto=None,
        status_code=201,
        operation_id="criarCompra",
        responses=error_responses(404, 409, 422, 503),
        tags=_TAGS,
    )
    async def criar_compra(self, conn: ConnDep, redis: RedisDep, data: JSONBody[CompraCreate]) -> Compra:
        return await challenge.create_compra(
            conn, redis, cliente_id=data.cliente_id, evento_id=data.evento_id
        )

    @get("/", operation_id="listarCompras", tags=_TAGS)
    async def listar_compras(
        self,
        conn: ConnDep,
        limite: Annotated[int, QueryParameter(ge=1, le=100)] = 10,
        pagina: Annotated[int, QueryParameter(ge=1, le=10_000_000)] = 1,
    ) -> PaginaDeCompras:
        return await challenge.list_compras(conn, limite=limite, pagina=pagina)


route_handlers: list[ControllerRouterHandler] = [ClienteController, EventoController, CompraController]
