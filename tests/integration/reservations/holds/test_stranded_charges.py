"""A hold confirm whose process dies between the charge and the settle: the card is
charged at the provider (the payments stub, in process) and PostgreSQL has the hold as
unpaid. The reconcile (reservations/holds/reconcile.py) settles the hold with that charge
while the hold is still valid, or refunds it once the hold has ended — exactly once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from core.auth import Principal
from core.resources import Resources
from payments_stub.app import create_app as create_payments_app
from payments_stub.service import StubConfig
from reservations.holds import reconcile
from reservations.holds import service as holds_service
from reservations.holds.confirm import confirm_hold
from tests.factories import stock_counts
from tests.integration.reservations.holds.test_holds import (
    PM_DECLINED,
    PM_OK,
    auth,
    charges_of,
    confirm,
    create_hold,
    setup,
)


class ProcessDied(BaseException):
    """The confirming process stopping dead: nothing after this point runs."""


class DiesAfterCharge(httpx.AsyncBaseTransport):
    """The payments stub; while `armed`, the process 'dies' as a charge's answer comes back
    (the provider has decided and stored the charge; the API never learns its id)."""

    def __init__(self) -> None:
        self.inner = httpx.ASGITransport(app=create_payments_app(StubConfig()))
        self.armed = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.armed and request.method == "POST" and request.url.path.rstrip("/") == "/v1/charges":
            await response.aread()
            raise ProcessDied()
        return response


@pytest.fixture
async def provider(res: Resources, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DiesAfterCharge]:
    transport = DiesAfterCharge()
    async with httpx.AsyncClient(transport=transport, base_url="http://payments") as http:
        monkeypatch.setattr(res, "http", http)
        yield transport


async def crash_while_confirming(
    res: Resources, hold_id: uuid.UUID, customer_id: uuid.UUID, card: str = PM_OK
) -> None:
    with pytest.raises(ProcessDied):
        await confirm_hold(
            res.pool,
            res.redis,
            http=res.http,
            hold_id=hold_id,
            principal=Principal(customer_id=customer_id),
            payment_method=card,
            idempotency_key="crash",
        )


async def reconcile_now(res: Resources) -> reconcile.StrandedReport:
    return await reconcile.settle_stranded_charges(res.pool, res.redis, http=res.http, older_than_s=0)


async def hold_row(res: Resources, hold_id: uuid.UUID) -> Any:
    return await res.pool.fetchrow(
        "SELECT status, payment_id, charging_since FROM holds WHERE id = $1", hold_id
    )


async def stranded(
    client: httpx.AsyncClient, res: Resources, provider: DiesAfterCharge, card: str = PM_OK
) -> tuple[uuid.UUID, uuid.UUID, dict[str, Any]]:
    """A hold whose confirm died after its charge: (event, customer, hold)."""
    event_id, customer_id = await setup(res, capacity=3, max_per_customer=2)
    hold = (await create_hold(client, event_id, customer_id)).json()
    await crash_while_confirming(res, uuid.UUID(hold["id"]), customer_id, card)
    provider.armed = False
    return event_id, customer_id, hold


async def test_crash_after_charge_leaves_a_marked_unpaid_hold(
    client: httpx.AsyncClient, res: Resources, provider: DiesAfterCharge
) -> None:
    """The state the reconcile exists for (its control): money captured, hold unpaid."""
    event_id, _, hold = await stranded(client, res, provider)
    hold_id = uuid.UUID(hold["id"])
    row = await hold_row(res, hold_id)
    assert (row["status"], row["payment_id"]) == ("active", None)
    assert row["charging_since"] is not None
    assert [c["status"] for c in await charges_of(res, hold["id"])] == ["succeeded"]
    async with res.pool.acquire() as conn:
        assert (await stock_counts(conn, event_id))["BOOKED"] == 0
    # Not yet past the grace: the reconcile leaves a confirm that may still be running alone.
    report = await reconcile.settle_stranded_charges(res.pool, res.redis, http=res.http, older_than_s=60)
    assert report.checked == 0
    assert (await hold_row(res, hold_id))["status"] == "active"


async def test_still_valid_hold_is_settled_with_its_charge_once(
    client: httpx.AsyncClient, res: Resources, provider: DiesAfterCharge
) -> None:
    event_id, customer_id, hold = await stranded(client, res, provider)
    hold_id = uuid.UUID(hold["id"])
    [charge] = await charges_of(res, hold["id"])

    report = await reconcile_now(res)
    assert (report.checked, report.settled, report.refunded, report.unresolved) == (1, 1, 0, 0)
    row = await hold_row(res, hold_id)
    assert (row["status"], row["payment_id"], row["charging_since"]) == ("confirmed", charge["id"], None)
    purchases = await res.pool.fetch("SELECT customer_id, hold_id FROM purchases")
    assert [(p["customer_id"], p["hold_id"]) for p in purchases] == [(customer_id, hold_id)]
    async with res.pool.acquire() as conn:
        assert (await stock_counts(conn, event_id))["BOOKED"] == 1
    # Charged once, never refunded; a second run finds nothing to do.
    assert [(c["status"], c["refunds"]) for c in await charges_of(res, hold["id"])] == [("succeeded", 0)]
    again = await reconcile_now(res)
    assert again.checked == 0
    assert await res.pool.fetchval("SELECT count(*) FROM purchases") == 1
    # The buyer retrying the confirm is told the hold is paid for; nothing is charged again.
    retry = await confirm(client, hold["id"], customer_id, key="after-crash")
    assert (retry.status_code, retry.json()["error"]) == (409, "hold_not_active")
    assert len(await charges_of(res, hold["id"])) == 1


@pytest.mark.parametrize("ended_by", ["sweeper", "cancel"])
async def test_ended_hold_gets_its_charge_refunded_once(
    client: httpx.AsyncClient, res: Resources, provider: DiesAfterCharge, ended_by: str
) -> None:
    event_id, customer_id, hold = await stranded(client, res, provider)
    hold_id = uuid.UUID(hold["id"])
    if ended_by == "sweeper":
        await res.pool.execute(
            "UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = $1", hold_id
        )
        async with res.pool.acquire() as conn:
            assert await holds_service.expire_holds(conn, res.redis) == 1
    else:
        r = await client.delete(f"/api/holds/{hold['id']}", headers=auth(customer_id))
        assert r.status_code == 204, r.text
    # The hold ended on its own; the money is still captured, the marker still there.
    assert [c["status"] for c in await charges_of(res, hold["id"])] == ["succeeded"]
    assert (await hold_row(res, hold_id))["charging_since"] is not None

    report = await reconcile_now(res)
    assert (report.checked, report.settled, report.refunded, report.unresolved) == (1, 0, 1, 0)
    charges = await charges_of(res, hold["id"])
    assert [(c["status"], c["refunds"], c["refunded_cents"]) for c in charges] == [
        ("refunded", 1, hold["total_cents"])
    ]
    row = await hold_row(res, hold_id)
    status = "expired" if ended_by == "sweeper" else "cancelled"
    assert (row["status"], row["payment_id"], row["charging_since"]) == (status, None, None)
    assert await res.pool.fetchval("SELECT count(*) FROM purchases") == 0
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
    assert (counts["BOOKED"], counts["IN_PROGRESS"]) == (0, 0)
    assert (await reconcile_now(res)).checked == 0
    assert [c["refunds"] for c in await charges_of(res, hold["id"])] == [1]


async def test_overdue_hold_is_expired_and_refunded_by_the_reconcile(
    client: httpx.AsyncClient, res: Resources, provider: DiesAfterCharge
) -> None:
    """Past `expires_at` with no expiry run yet: the settle step expires it, never books it."""
    event_id, _, hold = await stranded(client, res, provider)
    hold_id = uuid.UUID(hold["id"])
    await res.pool.execute("UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = $1", hold_id)
    report = await reconcile_now(res)
    assert (report.settled, report.refunded) == (0, 1)
    assert (await hold_row(res, hold_id))["status"] == "expired"
    assert [c["status"] for c in await charges_of(res, hold["id"])] == ["refunded"]
    async with res.pool.acquire() as conn:
        counts = await stock_counts(conn, event_id)
    assert (counts["BOOKED"], counts["AVAILABLE"]) == (0, counts["capacity"])


@pytest.mark.parametrize("hold_ended", [False, True])
async def test_concurrent_reconciles_settle_or_refund_once(
    client: httpx.AsyncClient, res: Resources, provider: DiesAfterCharge, hold_ended: bool
) -> None:
    """Two reconcile runs at once (two arq workers): one settle or one refund, not two."""
    _, _, hold = await stranded(client, res, provider)
    hold_id = uuid.UUID(hold["id"])
    if hold_ended:
        await res.pool.execute(
            "UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = $1", hold_id
        )
    reports = await asyncio.gather(reconcile_now(res), reconcile_now(res))
    assert sum(r.settled for r in reports) == (0 if hold_ended else 1)
    charges = await charges_of(res, hold["id"])
    assert len(charges) == 1
    if hold_ended:
        assert (charges[0]["status"], charges[0]["refunds"]) == ("refunded", 1)
    else:
        assert (charges[0]["status"], charges[0]["refunds"]) == ("succeeded", 0)
    assert await res.pool.fetchval("SELECT count(*) FROM purchases") == (0 if hold_ended else 1)
    assert (await hold_row(res, hold_id))["charging_since"] is None


async def test_declined_charge_is_cleared_without_a_refund(
    client: httpx.AsyncClient, res: Resources, provider: DiesAfterCharge
) -> None:
    """Nothing captured (a decline whose answer was lost): the hold stays payable."""
    _, _, hold = await stranded(client, res, provider, card=PM_DECLINED)
    hold_id = uuid.UUID(hold["id"])
    report = await reconcile_now(res)
    assert (report.checked, report.settled, report.refunded, report.unresolved) == (1, 0, 0, 0)
    row = await hold_row(res, hold_id)
    assert (row["status"], row["charging_since"]) == ("active", None)
    assert [c["status"] for c in await charges_of(res, hold["id"])] == ["declined"]


async def test_provider_down_leaves_the_marker_for_the_next_run(
    client: httpx.AsyncClient, res: Resources, provider: DiesAfterCharge, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, hold = await stranded(client, res, provider)
    hold_id = uuid.UUID(hold["id"])
    real = res.http
    down = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(503)), base_url="http://payments"
    )
    monkeypatch.setattr(res, "http", down)
    report = await reconcile_now(res)
    assert (report.checked, report.unresolved) == (1, 1)
    assert (await hold_row(res, hold_id))["charging_since"] is not None
    await down.aclose()
    monkeypatch.setattr(res, "http", real)
    report = await reconcile_now(res)
    assert report.settled == 1
    assert (await hold_row(res, hold_id))["status"] == "confirmed"


async def test_the_cron_settles_a_charge_older_than_the_grace(
    client: httpx.AsyncClient, res: Resources, provider: DiesAfterCharge
) -> None:
    from jobs.tasks.holds import reconcile_charges
    from jobs.worker import WorkerSettings

    assert "cron:holds.reconcile" in {c.name for c in WorkerSettings.cron_jobs}
    settings = res.settings
    longest_charge = settings.payments_timeout_s * (settings.payments_retries + 1)
    assert reconcile.charge_grace_s() >= max(settings.hold_charge_grace_s, 2 * longest_charge)
    _, _, hold = await stranded(client, res, provider)
    hold_id = uuid.UUID(hold["id"])
    assert (await reconcile_charges({"res": res}))["checked"] == 0  # a fresh marker waits
    await res.pool.execute(
        "UPDATE holds SET charging_since = now() - make_interval(secs => $2) WHERE id = $1",
        hold_id,
        reconcile.charge_grace_s() + 1,
    )
    assert await reconcile_charges({"res": res}) == {
        "checked": 1,
        "settled": 1,
        "refunded": 0,
        "unresolved": 0,
    }
    assert (await hold_row(res, hold_id))["status"] == "confirmed"
