"""(b) Flash sale: 1,000,000 order attempts for 50,000 tickets through `POST /api/orders`.

At scale s: round(1,000,000 s) attempts for round(50,000 s) tickets of one event (no
waiting room, one ticket per customer). The attempts are distinct customers plus retries:
every 10th customer sends its order a second time with the same Idempotency-Key and body
(half of them 16 attempts later, often while the first is still in flight; half 512
attempts later), so retries are 10% of the customers and attempts = 1.1 x customers.

- Customers are written in bulk (generate_series) and their JWTs minted here into an
  attempts file ("<token> <key>" per line, streamed: memory does not grow with the scale),
  which wrk's orders.lua replays at 64 connections, as fast as the API answers.
- Before the first attempt, up to 1,000 buyers spread over the first 2 x tickets
  customers connect `/api/ws`; each decision they hear is timed against the order's
  `decided_at` (PostgreSQL's clock, the same machine's).
- After the last attempt the harness waits until Redis has no pending order and
  PostgreSQL no queued one, then checks the outcome from PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import math
import time
from pathlib import Path
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect

from bench import loadgen
from bench.checks import repeated, ticket_counts
from bench.harness import Harness, scaled
from bench.httpclient import HttpPool
from bench.report import Figure, Report, ms, num, pct, target
from bench.stats import summary_ms
from bench.system import FRAMEWORK_FLOOR
from bench.tokens import Minter, customer_id, insert_customers
from bench.wrk import WrkResult

ATTEMPTS = 1_000_000
TICKETS = 50_000
RETRY_EVERY = 10
CARD = "4242424242424242"
WS_BUYERS = 1_000
PENDING_KEY = "cp:orders:pending"


def sold_out_key(event_id: str) -> str:
    return f"cp:soldout:{{{event_id}}}"


def write_attempts(path: Path, *, minter: Minter, attempts: int) -> tuple[int, int]:
    """Write the attempts file; returns (customers, retries).

    Customer i's key is `order-<i>`; a retry repeats its line verbatim."""
    customers = math.ceil(attempts * RETRY_EVERY / (RETRY_EVERY + 1))
    retries_wanted = attempts - customers
    pending: list[tuple[int, int, str]] = []
    scheduled = written = 0
    with path.open("w") as f:
        for i in range(customers):
            while pending and pending[0][0] <= written:
                _, _, line = heapq.heappop(pending)
                f.write(line)
                written += 1
            line = f"{minter.token(customer_id('buyer', i))} order-{i}\n"
            f.write(line)
            written += 1
            if scheduled < retries_wanted and i % RETRY_EVERY == RETRY_EVERY - 1:
                lag = 16 if (i // RETRY_EVERY) % 2 == 0 else 512
                heapq.heappush(pending, (written + lag, i, line))
                scheduled += 1
        while pending:
            f.write(heapq.heappop(pending)[2])
            written += 1
    return customers, scheduled


class Buyers:
    """Customers listening on /api/ws; records (receive time, decided_at) per decision."""

    def __init__(self, base_ws: str, tokens: list[str]) -> None:
        self.base_ws = base_ws
        self.tokens = tokens
        self.sockets: list[ClientConnection] = []
        self.decisions: dict[str, tuple[float, float]] = {}  # order id -> (received, decided), first
        self.messages = 0  # `order` messages with a decision, repeats included
        self.failed = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def connect(self) -> None:
        sem = asyncio.Semaphore(50)

        async def one(token: str) -> None:
            async with sem:
                try:
                    ws = await connect(
                        f"{self.base_ws}/api/ws?token={token}",
                        compression=None,
                        ping_interval=None,
                        open_timeout=30,
                    )
                except (OSError, TimeoutError, Exception):
                    self.failed += 1
                    return
                self.sockets.append(ws)
                self._tasks.append(asyncio.create_task(self._listen(ws)))

        await asyncio.gather(*(one(t) for t in self.tokens))

    async def _listen(self, ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                received = time.time()
                msg = msgspec.json.decode(raw)
                if msg.get("type") == "order":
                    order = msg["order"]
                    if order.get("decided_at"):
                        self.messages += 1
                        decided = dt.datetime.fromisoformat(order["decided_at"]).timestamp()
                        self.decisions.setdefault(order["id"], (received, decided))

    async def close(self) -> None:
        for ws in self.sockets:
            with contextlib.suppress(Exception):
                await ws.close()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _watch_sold_out(h: Harness, event_id: str, seen: list[float]) -> None:
    while not seen:
        if await h.rd.exists(sold_out_key(event_id)):
            seen.append(time.time())
            return
        await asyncio.sleep(0.05)


async def _wait_decided(h: Harness, event_id: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        pending = await h.rd.zcard(PENDING_KEY)
        queued = await h.pg.fetchval(
            "SELECT count(*) FROM orders WHERE event_id = $1 AND status = 'queued'", event_id
        )
        if pending == 0 and queued == 0:
            return True
        h.sys.check_alive()
        await asyncio.sleep(0.2)
    return False


async def _python_driver(
    h: Harness, attempts_file: Path, event_id: str, limit: int, budget_s: float
) -> WrkResult:
    body = msgspec.json.encode({"event_id": event_id, "quantity": 1, "card_number": CARD})
    pool = HttpPool("127.0.0.1", h.lay.api_port, size=h.opts.connections)

    def build(token: str, key: str) -> loadgen.Request:
        headers = {
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": key,
            "Content-Type": "application/json",
        }
        return ("POST", "/api/orders", headers, body)

    try:
        return await loadgen.drive(
            pool,
            loadgen.attempt_lines(attempts_file, limit, build),
            concurrency=h.opts.connections,
            budget_s=budget_s,
        )
    finally:
        await pool.close()


async def run(h: Harness) -> Report:
    scale = h.opts.scale
    attempts = scaled(ATTEMPTS, scale, 100)
    tickets = scaled(TICKETS, scale, 5)
    budget_s = h.budget(max(120.0, attempts / 400))
    report = h.new_report("b", "flash sale")
    minter = Minter(h.sys.jwt_secret)

    # Data: customers in bulk, attempts file streamed to disk.
    t = time.monotonic()
    attempts_file = h.out / "attempts.txt"
    customers, retries = await asyncio.to_thread(
        write_attempts, attempts_file, minter=minter, attempts=attempts
    )
    attempts = customers + retries
    await insert_customers(h.pg, kind="buyer", count=customers)
    prepare_s = time.monotonic() - t

    ceiling_args = [str(attempts_file), "00000000-0000-4000-8000-000000000000", CARD, str(attempts)]
    ceiling = await h.ceiling("orders.lua", ceiling_args, limit=attempts, label="orders")
    floor = await h.ceiling(
        "orders.lua", ceiling_args, limit=attempts, label="orders-litestar", target=FRAMEWORK_FLOOR
    )

    await h.start_system()
    event = await h.create_event(
        name="Flash sale",
        venue="Bench Arena",
        starts_at=(dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
        price_cents=5000,
        capacity=tickets,
        max_per_customer=1,
    )
    event_id = str(event["id"])
    await h.start_memory()

    step = max(1, (2 * tickets) // WS_BUYERS)
    ws_indexes = list(range(0, min(customers, 2 * tickets), step))[:WS_BUYERS]
    buyers = Buyers(
        f"ws://127.0.0.1:{h.lay.api_port}", [minter.token(customer_id("buyer", i)) for i in ws_indexes]
    )
    await buyers.connect()
    await asyncio.sleep(1.0)  # let every socket finish subscribing

    sold_out_at: list[float] = []
    watcher = asyncio.create_task(_watch_sold_out(h, event_id, sold_out_at))
    started = time.time()
    deadline = time.monotonic() + budget_s
    if h.opts.use_wrk:
        result = await h.run_wrk(
            "orders.lua",
            [str(attempts_file), event_id, CARD, str(attempts)],
            limit=attempts,
            budget_s=budget_s,
            label="orders",
        )
    else:
        result = await _python_driver(h, attempts_file, event_id, attempts, budget_s)
    first_attempt = result.first_s or started
    decided_all = await _wait_decided(h, event_id, deadline + 60)
    await asyncio.sleep(1.0)  # the last decisions reach the sockets
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    await buyers.close()
    accepted_metric = int(await h.api_metric("crowdpass_orders_total", 'outcome="accepted"'))
    peaks = await h.stop_memory()

    outcome = await _outcome(h, event_id)
    # Times: from the first attempt to the sold-out flag, and to the last decision.
    last_decision = outcome["last_decided"]
    decided_s = last_decision.timestamp() - first_attempt if last_decision else None
    sold_out_s = sold_out_at[0] - first_attempt if sold_out_at else None
    ws = summary_ms([max(0.0, r - d) for r, d in buyers.decisions.values()])

    ratio = pct(result.rate, ceiling.rate if ceiling else None)
    rate_ok = ceiling is not None and result.rate >= 0.2 * ceiling.rate
    p99 = result.latency_ms.get("p99")
    c202 = result.statuses.get(202, 0)
    others = {k: v for k, v in result.statuses.items() if k not in (202, 409)}
    report.ceiling.append(h.ceiling_line(ceiling, "POST /api/orders shape"))
    if floor is not None:
        share = pct(floor.rate, ceiling.rate if ceiling else None)
        report.ceiling.append(
            f"Framework floor: {num(floor.rate)} req/s ({share} of "
            f"the ceiling), p50 {ms(floor.latency_ms.get('p50'))}, p99 {ms(floor.latency_ms.get('p99'))} "
            "(bench/hello_litestar.py: Litestar decoding the same body into a Struct and answering 202, "
            "nothing else; same flags, core, wrk script and settings)"
        )
    report.figures += [
        Figure("attempts (customers + retries)", f"{num(attempts)} ({num(customers)} + {num(retries)})"),
        Figure("tickets", num(tickets)),
        Figure(
            "answers by status",
            f"202: {num(c202)}, 409: {num(result.statuses.get(409, 0))}"
            + "".join(f", {k}: {num(v)}" for k, v in sorted(others.items()))
            + f"; socket errors {result.socket_errors}",
        ),
        Figure(
            "attempt rate (all answers)",
            f"{num(result.rate)} req/s over {result.seconds:.1f} s",
            ratio,
            target(rate_ok if ceiling else None, "≥ 20% of ceiling"),
        ),
        Figure("attempt rate vs the framework floor", pct(result.rate, floor.rate if floor else None)),
        Figure(
            "attempt latency p50 / p95 / p99 / max",
            " / ".join(ms(result.latency_ms.get(k)) for k in ("p50", "p95", "p99", "max")),
            "",
            target(p99 is not None and p99 <= 50, "p99 ≤ 50 ms at 64 connections"),
        ),
        Figure("orders accepted (new, API counter)", num(accepted_metric)),
        Figure(
            "accept phase: first attempt → sold-out flag",
            f"{sold_out_s:.1f} s ({num(accepted_metric / sold_out_s)} accepted/s)" if sold_out_s else "n/a",
        ),
        Figure(
            "time until every order is decided",
            f"{decided_s:.1f} s" if decided_s is not None else "n/a",
            "",
            target(decided_s is not None and decided_s <= 150, "≤ 150 s"),
        ),
        Figure(
            "decisions: confirmed / rejected (by reason)",
            f"{num(outcome['confirmed'])} / {num(outcome['rejected'])} ({outcome['reasons']})",
        ),
        Figure(
            "WebSocket decision → client p50 / p99 (n)",
            f"{ms(ws['p50'])} / {ms(ws['p99'])} (n = {ws['n']} orders of {len(buyers.sockets)} connected "
            f"buyers; {buyers.failed} failed to connect; "
            f"{buyers.messages - len(buyers.decisions)} repeated messages)",
            "",
            target(ws["p99"] is not None and float(ws["p99"] or 0) <= 250, "p99 ≤ 250 ms"),
        ),
        Figure("preparation (customers + tokens)", f"{prepare_s:.1f} s"),
    ]
    h.memory_figures(report, peaks)
    expected_confirmed = min(tickets, outcome["orders"])
    report.check("every attempt answered within the budget", True, result.complete)
    report.check(
        "no 5xx answer and no socket error",
        0,
        sum(v for k, v in others.items() if k >= 500) + result.socket_errors,
    )
    report.check("every order decided (Redis pending + PostgreSQL queued)", True, decided_all)
    report.check("accepted orders (API counter) all in PostgreSQL", accepted_metric, outcome["orders"])
    report.check("confirmed orders", expected_confirmed, outcome["confirmed"])
    report.check(
        "tickets sold (BOOKED) = confirmed = purchases",
        (outcome["confirmed"],) * 2,
        (outcome["booked"], outcome["purchases"]),
    )
    report.check("customers with more than one order (duplicates)", 0, outcome["dup_orders"])
    report.check("customers with more than one ticket", 0, outcome["dup_purchases"])
    report.check("tickets sold twice", 0, outcome["dup_tickets"])
    report.check("tickets left held", 0, outcome["held"])
    report.check("orders from customers that did not attempt", 0, outcome["strangers"])
    report.raw.update(
        attempts=attempts,
        customers=customers,
        retries=retries,
        tickets=tickets,
        wrk=result.figures(),
        ceiling=ceiling.figures() if ceiling else None,
        framework_floor=floor.figures() if floor else None,
        ws=ws,
        decided_s=decided_s,
        sold_out_s=sold_out_s,
        outcome={k: (str(v) if isinstance(v, dt.datetime) else v) for k, v in outcome.items()},
    )
    with contextlib.suppress(OSError):
        attempts_file.unlink()
    return report


async def _outcome(h: Harness, event_id: str) -> dict[str, Any]:
    pg = h.pg
    row = await pg.fetchrow(
        """
        SELECT count(*) AS orders,
               count(*) FILTER (WHERE status = 'confirmed') AS confirmed,
               count(*) FILTER (WHERE status = 'rejected') AS rejected,
               max(decided_at) AS last_decided
        FROM orders WHERE event_id = $1
        """,
        event_id,
    )
    assert row is not None
    reasons = await pg.fetch(
        """SELECT reason, count(*) AS n FROM orders
           WHERE event_id = $1 AND status = 'rejected' GROUP BY reason ORDER BY 2 DESC""",
        event_id,
    )
    booked, held = await ticket_counts(pg, event_id)
    purchases = await pg.fetchval("SELECT count(*) FROM purchases WHERE event_id = $1", event_id)
    dup_orders = await repeated(pg, table="orders", column="customer_id", event_id=event_id)
    dup_purchases = await repeated(pg, table="purchases", column="customer_id", event_id=event_id)
    dup_tickets = await repeated(pg, table="purchases", column="ticket_id")
    strangers = await pg.fetchval(
        "SELECT count(*) FROM orders WHERE event_id = $1 AND customer_id::text NOT LIKE 'b0000000-%'",
        event_id,
    )
    return {
        "orders": row["orders"],
        "confirmed": row["confirmed"],
        "rejected": row["rejected"],
        "last_decided": row["last_decided"],
        "reasons": ", ".join(f"{r['reason']}: {r['n']:,}" for r in reasons) or "none",
        "booked": booked,
        "held": held,
        "purchases": purchases,
        "dup_orders": dup_orders,
        "dup_purchases": dup_purchases,
        "dup_tickets": dup_tickets,
        "strangers": strangers,
    }
