"""Routes: the challenge contract (API.md section 1), Portuguese paths and fields verbatim."""

from __future__ import annotations

from typing import Annotated

from litestar import get, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from core.deps import ConnDep, RedisDep
from core.schemas import StrictBody, parse_uuid
from reservations.schemas.challenge import (
    Cliente,
    ClienteComCompras,
    ClienteCreate,
    Compra,
    CompraCreate,
    Evento,
    EventoCreate,
    PaginaDeCompras,
)
from reservations.service import challenge

_TAGS = ["challenge"]


@post(
    "/clientes",
    dto=StrictBody[ClienteCreate],
    return_dto=None,
    status_code=201,
    operation_id="criarCliente",
    tags=_TAGS,
)
async def criar_cliente(conn: ConnDep, data: JSONBody[ClienteCreate]) -> Cliente:
    return await challenge.create_cliente(conn, nome=data.nome, email=data.email, cpf=data.cpf)


@get("/clientes/{cliente_id:str}", operation_id="obterCliente", tags=_TAGS)
async def obter_cliente(conn: ConnDep, cliente_id: FromPath[str]) -> ClienteComCompras:
    return await challenge.get_cliente(conn, cliente_id=parse_uuid(cliente_id, field="id"))


@post(
    "/eventos",
    dto=StrictBody[EventoCreate],
    return_dto=None,
    status_code=201,
    operation_id="criarEvento",
    tags=_TAGS,
)
async def criar_evento(conn: ConnDep, data: JSONBody[EventoCreate]) -> Evento:
    return await challenge.create_evento(
        conn, nome=data.nome, data=data.data, capacidade=data.capacidade, preco=data.preco
    )


@get("/eventos/{evento_id:str}", operation_id="obterEvento", tags=_TAGS)
async def obter_evento(conn: ConnDep, redis: RedisDep, evento_id: FromPath[str]) -> Evento:
    return await challenge.get_evento(conn, redis, evento_id=parse_uuid(evento_id, field="id"))


@post(
    "/compras",
    dto=StrictBody[CompraCreate],
    return_dto=None,
    status_code=201,
    operation_id="criarCompra",
    tags=_TAGS,
)
async def criar_compra(conn: ConnDep, redis: RedisDep, data: JSONBody[CompraCreate]) -> Compra:
    return await challenge.create_compra(conn, redis, cliente_id=data.cliente_id, evento_id=data.evento_id)


@get("/compras", operation_id="listarCompras", tags=_TAGS)
async def listar_compras(
    conn: ConnDep,
    limite: Annotated[int, QueryParameter(ge=1, le=100)] = 10,
    pagina: Annotated[int, QueryParameter(ge=1, le=10_000_000)] = 1,
) -> PaginaDeCompras:
    return await challenge.list_compras(conn, limite=limite, pagina=pagina)


route_handlers: list[ControllerRouterHandler] = [
    criar_cliente,
    obter_cliente,
    criar_evento,
    obter_evento,
    criar_compra,
    listar_compras,
]
