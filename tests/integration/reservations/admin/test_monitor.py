"""GET /api/admin/jobs and /metrics."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families

from core.resources import Resources
from tests.factories import make_customer, make_customers, make_event
from tests.integration.reservations.orders.helpers import PM_DECLINED, auth, post_order, wait_decided


def _admin(res: Resources) -> dict[str, str]:
    return {"Authorization": f"Bearer {res.settings.admin_token}"}


async def test_jobs_overview_from_arqs_records(
    res: Resources, client: httpx.AsyncClient, orders_worker: object, worker: object
) -> None:
    async with res.pool.acquire() as conn:
        customers = await make_customers(conn, 3)
        event_id = await make_event(conn, capacity=5, hold_ttl_s=60)
        hold_id = await conn.fetchval(
            "INSERT INTO holds (event_id, customer_id, quantity, total_cents, expires_at)"
            " VALUES ($1, $2, 1, 100, now() + interval '20 seconds') RETURNING id",
            event_id,
            customers[0],
        )
        await conn.execute(  # the hold keeps its ticket, as the invariant check expects
            "UPDATE tickets SET status = 'IN_PROGRESS', hold_id = $2, customer_id = $3"
            " WHERE id = (SELECT id FROM tickets WHERE event_id = $1 LIMIT 1)",
            event_id,
            hold_id,
            customers[0],
        )
    placed = [await post_order(client, c, event_id) for c in customers[1:]]
    assert [p.status_code for p in placed] == [202, 202], [p.text for p in placed]
    ids = [uuid.UUID(p.json()["id"]) for p in placed]
    await wait_decided(res.pool, ids)
    for _ in range(300):  # the reconcile cron runs when the default worker starts
        if await res.pool.fetchval("SELECT count(*) FROM invariant_checks"):
            break
        await asyncio.sleep(0.05)
    body: dict[str, object] = {}
    for _ in range(300):  # results are written just after a job ends (later on a busy machine)
        r = await client.get("/api/admin/jobs", headers=_admin(res))
        assert r.status_code == 200, r.text
        body = r.json()
        crons_seen = {c["name"] for c in body["crons"]}  # type: ignore[attr-defined]
        stream = {q["name"]: q for q in body["queues"]}.get("ticket_orders", {})  # type: ignore[attr-defined]
        # A decided order's stream entry is acknowledged just after its batch is announced.
        settled = stream.get("queued") == 0 and stream.get("in_progress") == 0
        if len(body["recent"]) >= 2 and "cron:orders.reconcile" in crons_seen and settled:  # type: ignore[arg-type]
            break
        await asyncio.sleep(0.05)
    queues = {q["name"]: q for q in body["queues"]}  # type: ignore[attr-defined]
    assert set(queues) == {"ticket_orders", "arq:queue"}
    assert queues["ticket_orders"]["queued"] == 0 and queues["ticket_orders"]["in_progress"] == 0
    decided = [j for j in body["recent"] if j["function"] == "orders.decide"]  # type: ignore[attr-defined]
    assert {j["id"] for j in decided} >= {str(i) for i in ids}
    assert all(j["status"] == "succeeded" and j["run_s"] >= 0 and j["wait_s"] >= 0 for j in decided)
    crons = {c["name"]: c for c in body["crons"]}  # type: ignore[attr-defined]
    assert crons["cron:orders.reconcile"]["last"]["status"] == "succeeded"
    assert body["holds"]["active"] >= 1 and body["holds"]["expiring_within_60s"] >= 1  # type: ignore[index]
    assert body["holds"]["soonest"][0]["customer_id"] == str(customers[0])  # type: ignore[index]
    assert body["last_invariant_check"]["ok"] is True  # type: ignore[index]
    assert body["orders_undecided"] == 0


async def test_jobs_overview_is_for_the_organizer_only(res: Resources, client: httpx.AsyncClient) -> None:
    async with res.pool.acquire() as conn:
        customer = await make_customer(conn)
    assert (await client.get("/api/admin/jobs")).status_code == 401
    assert (await client.get("/api/admin/jobs", headers=auth(customer))).status_code == 403


async def test_queue_counts_while_nothing_runs(res: Resources, client: httpx.AsyncClient) -> None:
    async with res.pool.acquire() as conn:
        customers = await make_customers(conn, 4)
        event_id = await make_event(conn, capacity=5)
    for c in customers:
        assert (await post_order(client, c, event_id)).status_code == 202
    body = (await client.get("/api/admin/jobs", headers=_admin(res))).json()
    orders_queue = next(q for q in body["queues"] if q["name"] == "ticket_orders")
    assert orders_queue["queued"] == 4 and orders_queue["in_progress"] == 0
    assert orders_queue["oldest_queued_s"] is not None and orders_queue["oldest_queued_s"] >= 0
    assert body["orders_undecided"] == 4
    assert body["last_invariant_check"] is None


Sample = tuple[str, frozenset[tuple[str, str]]]


def _samples(text: str) -> dict[Sample, float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _key(name: str, **labels: str) -> Sample:
    return (name, frozenset(labels.items()))


async def test_metrics_count_orders_and_show_queue_depth(
    res: Resources, client: httpx.AsyncClient, orders_worker: object
) -> None:
    # The instruments are process-wide: earlier tests have counted too. This test's own
    # orders are what the counts grew by since the first scrape.
    expected = {
        _key("crowdpass_orders_total", outcome="accepted"): 2,
        _key("crowdpass_orders_total", outcome="confirmed"): 1,
        _key("crowdpass_order_rejections_total", reason="payment_declined"): 1,
        _key("crowdpass_job_seconds_count", function="orders.decide", outcome="succeeded"): 2,
        _key("crowdpass_order_decision_seconds_count"): 2,
        _key("crowdpass_request_seconds_count", method="POST", route="/api/orders", status="202"): 2,
    }
    before = _samples((await client.get("/metrics")).text)
    async with res.pool.acquire() as conn:
        customers = await make_customers(conn, 2)
        event_id = await make_event(conn, capacity=5)
    ok = await post_order(client, customers[0], event_id)
    declined = await post_order(client, customers[1], event_id, card=PM_DECLINED)
    assert ok.status_code == declined.status_code == 202, (ok.text, declined.text)
    await wait_decided(res.pool, [uuid.UUID(ok.json()["id"]), uuid.UUID(declined.json()["id"])])
    depth = _key("crowdpass_queue_depth", queue="ticket_orders")
    grown: dict[Sample, float] = {}
    after: dict[Sample, float] = {}
    for _ in range(250):  # counted just after the decision is announced; dequeued after the job ends
        after = _samples((await client.get("/metrics")).text)
        grown = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in expected}
        if grown == expected and after.get(depth) == 0.0:
            break
        await asyncio.sleep(0.02)
    assert grown == expected
    assert after.get(depth) == 0.0
