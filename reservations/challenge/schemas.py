"""The challenge contract's bodies: Portuguese field names, verbatim (API.md section 1)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from core.schemas import Out, Struct
from reservations.events.schemas import MAX_CAPACITY, MAX_PRICE_CENTS


class ClienteCreate(Struct, frozen=True, kw_only=True):
    nome: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
    cpf: Annotated[str, msgspec.Meta(min_length=11, max_length=11, pattern=r"^[0-9]{11}$")]


class Cliente(Out, frozen=True, kw_only=True):
    id: uuid.UUID
    nome: str
    email: str
    cpf: str | None


class EventoCreate(Struct, frozen=True, kw_only=True):
    nome: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    data: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    capacidade: Annotated[int, msgspec.Meta(ge=1, le=MAX_CAPACITY)]
    preco: Annotated[int, msgspec.Meta(ge=1, le=MAX_PRICE_CENTS)]


class Evento(Out, frozen=True, kw_only=True):
    id: uuid.UUID
    nome: str
    data: dt.datetime
    capacidade: int
    preco: int
    ingressos_vendidos: int
    ingressos_disponiveis: int
    status: Literal["disponivel", "esgotado"]


class CompraCreate(Struct, frozen=True, kw_only=True):
    cliente_id: uuid.UUID
    evento_id: uuid.UUID


class Compra(Out, frozen=True, kw_only=True):
    id: uuid.UUID
    cliente_id: uuid.UUID
    evento_id: uuid.UUID
    valor: int
    data_compra: dt.datetime
    status: Literal["confirmada"] = "confirmada"


class CompraDoCliente(Out, frozen=True, kw_only=True):
    id: uuid.UUID
    evento_id: uuid.UUID
    evento_nome: str
    valor: int
    data_compra: dt.datetime
    status: Literal["confirmada"] = "confirmada"


class ClienteComCompras(Out, frozen=True, kw_only=True):
    id: uuid.UUID
    nome: str
    email: str
    compras: list[CompraDoCliente]


class Ref(Out, frozen=True, kw_only=True):
    id: uuid.UUID
    nome: str


class CompraListada(Out, frozen=True, kw_only=True):
    id: uuid.UUID
    cliente: Ref
    evento: Ref
    valor: int
    data_compra: dt.datetime


class PaginaDeCompras(Out, frozen=True, kw_only=True):
    total: int
    pagina: int
    limite: int
    compras: list[CompraListada]
