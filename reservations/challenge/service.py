"""The challenge contract (API.md section 1): the same customers, events and tickets as the
product API, with the contract's Portuguese fields and its status codes.

A sandbox: the challenge face is anonymous, so it sees only its own customers and events
(`face = 'challenge'`: the seeded ones and those created here). A product customer or
event is unknown here (404), so no anonymous caller can read an account's email or book a
product event without paying. The product API sees both faces.

A purchase here is a booked ticket there: `create_compra` books one ticket straight from
AVAILABLE in one transaction, with the same primitives as the order worker.
"""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
from arq.connections import ArqRedis

from core.config import get_settings
from core.db import Connection, queries_beside
from core.errors import BadRequest, Busy
from reservations.challenge.errors import ChallengeNotOnSale, ChallengeSoldOut
from reservations.challenge.schemas import (
    Cliente,
    ClienteComCompras,
    Compra,
    CompraDoCliente,
    CompraListada,
    Evento,
    PaginaDeCompras,
    Ref,
)
from reservations.customers import service as customers
from reservations.customers.schemas import clean_email, clean_text
from reservations.errors import CustomerNotFound, EventNotFound, LimitReached, SoldOut
from reservations.events.schemas import Event, parse_instant
from reservations.events.service import get_event, insert_event
from reservations.inventory import service as tickets
from reservations.inventory.stock import get_stock, stock_changed
from reservations.live.service import announce_purchase

Q = queries_beside(__file__)


async def create_cliente(conn: Connection, *, nome: str, email: str, cpf: str) -> Cliente:
    nome = clean_text(nome, field="nome")
    email = clean_email(email)
    row = await customers.insert_customer_row(
        conn, name=nome, email=email, cpf=cpf, password_hash=None, face="challenge"
    )
    assert row is not None
    return Cliente(id=row["id"], nome=row["name"], email=row["email"], cpf=row["cpf"])


async def get_cliente(conn: Connection, *, cliente_id: uuid.UUID) -> ClienteComCompras:
    row = await customers.find_customer(conn, customer_id=cliente_id)
    if row is None or row["face"] != "challenge":
        raise CustomerNotFound("Cliente não encontrado.")
    compras = [
        CompraDoCliente(
            id=p["id"],
            evento_id=p["event_id"],
            evento_nome=p["event_name"],
            valor=p["price_cents"],
            data_compra=p["created_at"],
        )
        for p in await customers.list_purchase_rows(conn, customer_id=cliente_id)
    ]
    return ClienteComCompras(id=row["id"], nome=row["name"], email=row["email"], compras=compras)


async def create_evento(conn: Connection, *, nome: str, data: str, capacidade: int, preco: int) -> Evento:
    most = get_settings().challenge_max_capacity
    if capacidade > most:
        raise BadRequest(f"capacidade: no máximo {most} ingressos por evento.", field="capacidade")
    nome = clean_text(nome, field="nome")
    starts_at, _ = parse_instant(data, field="data")
    async with conn.transaction():
        event = await insert_event(
            conn,
            event_id=uuid.uuid4(),
            name=nome,
            venue="",
            starts_at=starts_at,
            sales_open_at=None,
            price_cents=preco,
            capacity=capacidade,
            sections=None,
            face="challenge",
        )
    assert event is not None  # a fresh id never conflicts
    return _evento(event, sold=0, available=event.capacity)


def _evento(event: Event, *, sold: int, available: int) -> Evento:
    return Evento(
        id=event.id,
        nome=event.name,
        data=event.starts_at,
        capacidade=event.capacity,
        preco=event.price_cents,
        ingressos_vendidos=sold,
        ingressos_disponiveis=available,
        status="disponivel" if available > 0 else "esgotado",
    )


async def get_challenge_event(conn: Connection, *, evento_id: uuid.UUID) -> Event:
    """A challenge event, or EventNotFound (also for a product event)."""
    event = await get_event(conn, event_id=evento_id)
    if event.face != "challenge":
        raise EventNotFound()
    return event


async def get_evento(conn: Connection, redis: ArqRedis, *, evento_id: uuid.UUID) -> Evento:
    event = await get_challenge_event(conn, evento_id=evento_id)
    stock = await get_stock(conn, redis, event_id=event.id)
    return _evento(event, sold=stock.sold, available=stock.available)


def _sellable_here(event: Event, now: dt.datetime) -> bool:
    """Events behind a waiting room, closed, or not yet on sale are not sold by /compras."""
    opened = event.sales_open_at is None or event.sales_open_at <= now
    return not (event.waiting_room or event.closed) and opened


async def create_compra(
    conn: Connection, redis: ArqRedis, *, cliente_id: uuid.UUID, evento_id: uuid.UUID
) -> Compra:
    """One ticket for one client: 404 unknown client or event, 409 over the per-client
    limit, 422 sold out. Nothing is written unless everything succeeds."""
    buyer_name: str | None = await conn.fetchval(Q.challenge_client_name, cliente_id)
    if buyer_name is None:
        raise CustomerNotFound("Cliente não encontrado.", field="cliente_id")
    event = await get_challenge_event(conn, evento_id=evento_id)
    if not _sellable_here(event, dt.datetime.now(dt.UTC)):
        raise ChallengeNotOnSale(field="evento_id")
    try:
        async with conn.transaction():
            await tickets.set_lock_timeout(conn, get_settings().lock_timeout_ms)
            await tickets.take_allowance(
                conn, customer_id=cliente_id, event_id=event.id, quantity=1, limit=event.max_per_customer
            )
            claimed = await tickets.claim_any(conn, event_id=event.id, quantity=1)
            ticket = claimed[0]
            await tickets.mark_booked(conn, ticket_ids=[ticket["id"]], customer_id=cliente_id)
            (purchase,) = await tickets.insert_purchases(
                conn,
                event_id=event.id,
                customer_id=cliente_id,
                tickets=[(ticket["id"], ticket["price_cents"], False)],
            )
    except LimitReached:
        raise LimitReached(
            f"Este cliente já tem {event.max_per_customer} ingresso(s) deste evento, o máximo permitido."
        ) from None
    except SoldOut:
        raise ChallengeSoldOut() from None
    except asyncpg.LockNotAvailableError:
        raise Busy() from None
    await stock_changed(redis, event_id=event.id)
    await announce_purchase(redis, event_id=event.id, buyer_name=buyer_name, at=purchase["created_at"])
    return Compra(
        id=purchase["id"],
        cliente_id=cliente_id,
        evento_id=event.id,
        valor=purchase["price_cents"],
        data_compra=purchase["created_at"],
    )


async def list_compras(conn: Connection, *, limite: int, pagina: int) -> PaginaDeCompras:
    """Every purchase, newest first, one page at a time."""
    total = await conn.fetchval(Q.count_purchases)
    rows = await conn.fetch(Q.list_purchases_page, limite, (pagina - 1) * limite)
    compras = [
        CompraListada(
            id=r["id"],
            cliente=Ref(id=r["customer_id"], nome=r["customer_name"]),
            evento=Ref(id=r["event_id"], nome=r["event_name"]),
            valor=r["price_cents"],
            data_compra=r["created_at"],
        )
        for r in rows
    ]
    return PaginaDeCompras(total=total, pagina=pagina, limite=limite, compras=compras)
