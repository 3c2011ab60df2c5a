"""docker-compose.yml with docker-compose.sentinel.yml: a sale whose Redis primary is killed
midway goes on through the promoted replica, orders decided by the same workers.

    deploy/compose.sh failover

runs it (fresh volumes, both files up, this test, down). Skipped unless COMPOSE_FAILOVER is
set: it kills a container. Reads COMPOSE_BASE_URL, COMPOSE_ADMIN_TOKEN, and two commands:
COMPOSE_KILL_PRIMARY (kill the `redis` service) and COMPOSE_ASK_SENTINEL (print the
sentinels' current primary of `mymaster`).
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

BASE_URL = os.environ.get("COMPOSE_BASE_URL", "")
pytestmark = pytest.mark.skipif(
    not (BASE_URL and os.environ.get("COMPOSE_FAILOVER")),
    reason="COMPOSE_FAILOVER is unset (deploy/compose.sh failover sets it)",
)
PM_OK = "pm_card_visa"  # the stub's test payment method of a card that succeeds


def _run(variable: str) -> str:
    done = subprocess.run(
        shlex.split(os.environ[variable]), capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def api() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=BASE_URL, timeout=15) as client:
        yield client


def _order(api: httpx.Client, token: str, event_id: str, deadline_s: float) -> str:
    """Place one order, retrying the same key while the gate answers 503 (a failover)."""
    key = uuid.uuid4().hex
    deadline = time.monotonic() + deadline_s
    while True:
        r = api.post(
            "/api/orders",
            json={"event_id": event_id, "payment_method": PM_OK},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
        )
        if r.status_code == 202:
            order_id: str = r.json()["id"]
            return order_id
        assert r.status_code == 503 and time.monotonic() < deadline, r.text
        time.sleep(0.5)


def _decided(api: httpx.Client, token: str, order_ids: list[str], deadline_s: float) -> dict[str, str]:
    deadline = time.monotonic() + deadline_s
    while True:
        statuses = {}
        for order_id in order_ids:
            r = api.get(f"/api/orders/{order_id}", headers={"Authorization": f"Bearer {token}"})
            statuses[order_id] = r.json()["status"] if r.status_code == 200 else f"http {r.status_code}"
        if all(s in ("confirmed", "rejected") for s in statuses.values()) or time.monotonic() > deadline:
            return statuses
        time.sleep(0.5)


def test_a_sale_goes_on_through_a_sentinel_failover(api: httpx.Client) -> None:
    admin = {"Authorization": f"Bearer {os.environ['COMPOSE_ADMIN_TOKEN']}"}
    starts = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    r = api.post(
        "/api/events",
        json={"name": "Failover", "venue": "Compose", "starts_at": starts, "capacity": 20,
              "price_cents": 1000, "max_per_customer": 10},
        headers=admin,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    event_id = r.json()["id"]
    email = f"failover-{uuid.uuid4().hex[:8]}@example.com"
    r = api.post("/api/customers", json={"name": "Fail Over", "email": email, "password": "correct-horse"})
    assert r.status_code == 201, r.text
    token = r.json()["token"]

    before = [_order(api, token, event_id, 10) for _ in range(3)]
    assert set(_decided(api, token, before, 60).values()) == {"confirmed"}
    primary = _run("COMPOSE_ASK_SENTINEL")

    _run("COMPOSE_KILL_PRIMARY")
    after = [_order(api, token, event_id, 90) for _ in range(3)]  # 503 until promoted
    statuses = _decided(api, token, before + after, 90)
    assert set(statuses.values()) == {"confirmed"}, statuses
    promoted = _run("COMPOSE_ASK_SENTINEL")
    assert promoted and promoted != primary, (primary, promoted)
    deadline = time.monotonic() + 10  # the counters are cached for a second
    while True:
        live = api.get(f"/api/events/{event_id}").json()["live"]
        if (live["sold"], live["available"]) == (6, 14) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert (live["sold"], live["available"]) == (6, 14), live
    health = api.get("/health")
    assert health.status_code == 200, health.text
