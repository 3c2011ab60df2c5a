"""The 1/100-size flash sale (b), waiting room (c) and holds (d) of bench/, as correctness
smoke tests.

Each runs `python -m bench.run <scenario> --scale 0.01 --no-record --no-ceiling` exactly as
an operator would (reset-db, API + both workers + payments stub as processes, the load
from the other core) and asserts the correctness checks it made from PostgreSQL. Nothing
about speed is asserted, and bench/results is left alone.

The runs use their own database (`<test database>_bench` on the test server) and the
next Redis database number, so that the e2e package's own processes (which consume the
same arq queues on the test Redis database) never pick up their jobs. Override with
BENCH_TEST_DATABASE_URL / BENCH_TEST_REDIS_URL.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

import pytest

from tests.conftest import DB_URL, REDIS_URL

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
PORTS = range(18760, 18799, 3)


def bench_database_url() -> str:
    if os.environ.get("BENCH_TEST_DATABASE_URL"):
        return os.environ["BENCH_TEST_DATABASE_URL"]
    parsed = urlparse(DB_URL)
    name = parsed.path.lstrip("/") or "postgres"
    return urlunparse(parsed._replace(path=f"/{name}_bench"))


def bench_redis_url() -> str:
    if os.environ.get("BENCH_TEST_REDIS_URL"):
        return os.environ["BENCH_TEST_REDIS_URL"]
    parsed = urlparse(REDIS_URL)
    if parsed.scheme == "unix":
        query = dict(parse_qsl(parsed.query))
        query["db"] = str((int(query.get("db", "0")) + 1) % 16)
        return urlunparse(parsed._replace(query=urlencode(query)))
    db = int(parsed.path.lstrip("/") or 0)
    return urlunparse(parsed._replace(path=f"/{(db + 1) % 16}"))


def free_port_base() -> int:
    """A base port whose three ports (API, payments stub, ceiling) nothing listens on."""
    for base in PORTS:
        taken = False
        for port in range(base, base + 3):
            with socket.socket() as s:
                taken = taken or s.connect_ex(("127.0.0.1", port)) == 0
        if not taken:
            return base
    raise RuntimeError("no free ports in 18760-18798")


def recorded() -> set[str]:
    return {p.name for p in RESULTS.glob("*.json")}


def run_scenario(scenario: str, out: Path) -> dict[str, Any]:
    before = recorded()
    cmd = [
        sys.executable, "-m", "bench.run", scenario, "--scale", "0.01", "--no-record", "--no-ceiling",
        "--database-url", bench_database_url(), "--redis-url", bench_redis_url(),
        "--port-base", str(free_port_base()), "--out", str(out), "--budget", "90",
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=110, check=False)
    reports = list(out.glob(f"*-{scenario}-0.01.json"))
    assert reports, f"no report written; exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(reports[0].read_text())
    failed = [c for c in report["checks"] if not c["ok"]]
    assert not failed, f"failed checks: {failed}\n{done.stdout[-2000:]}"
    assert done.returncode == 0, done.stderr[-3000:]
    assert recorded() == before, "a --no-record run must not add to bench/results"
    return report


def check(report: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in report["checks"] if c["name"] == name)
    return found


def test_flash_sale_at_one_hundredth(tmp_path: Path) -> None:
    report = run_scenario("flash", tmp_path)
    raw = report["raw"]
    assert raw["tickets"] == 500
    assert raw["attempts"] == 10_000
    assert raw["customers"] + raw["retries"] == raw["attempts"]
    confirmed = check(report, "confirmed orders")
    assert confirmed["expected"] == confirmed["actual"] == 500
    assert check(report, "customers with more than one order (duplicates)")["actual"] == 0
    assert check(report, "customers with more than one ticket")["actual"] == 0
    assert check(report, "tickets sold twice")["actual"] == 0
    assert check(report, "every order decided (Redis pending + PostgreSQL queued)")["actual"] is True
    accepted = check(report, "accepted orders (API counter) all in PostgreSQL")
    assert accepted["expected"] == accepted["actual"] >= 500
    # Every attempt got an answer: 202 (accepted or a retry's replay) or 409 (sold out).
    statuses = raw["order attempts"]["statuses"]
    assert statuses.get("202", 0) + statuses.get("409", 0) == raw["attempts"]


def test_waiting_room_at_one_hundredth(tmp_path: Path) -> None:
    report = run_scenario("waitingroom", tmp_path)
    raw = report["raw"]
    assert raw["visitors"] == 1_000
    assert raw["tickets"] == 100
    sold = check(report, "tickets sold (BOOKED) = purchases = confirmed holds")
    assert sold["expected"] == sold["actual"] == [100, 100, 100]
    assert check(report, "visitors with more than one ticket")["actual"] == 0
    assert check(report, "tickets sold twice")["actual"] == 0
    assert raw["tau"] == 1.0
    assert check(report, "admitted visitors are exactly the first arrivals")["actual"] is True
    assert check(report, "admission bound never exceeded (instants over 1.0)")["actual"] == 0
    assert 0 < raw["bound"]["max"] <= 1.0
    assert raw["bound"]["points"] > 100  # an admission, a hold start and a hold end per visitor
    # More visitors were admitted than tickets exist: the 30% who abandoned gave theirs back.
    assert raw["admitted"] > 100


def test_holds_and_seat_maps_at_one_hundredth(tmp_path: Path) -> None:
    report = run_scenario("holds", tmp_path)
    raw = report["raw"]
    assert raw["seat map reads (gzip)"]["statuses"] == {"200": 2_000}
    assert raw["seat map reads (If-None-Match)"]["statuses"] == {"304": 2_000}
    assert raw["holds (one seat each)"]["statuses"] == {"201": 500}
    assert raw["contention (400 for 208)"]["statuses"] == {"201": 208, "409": 192}
    assert check(report, "contention: tickets (sold, held)")["actual"] == [0, 208]
    assert check(report, "hold storm: tickets (sold, held)")["actual"] == [0, 500]
    assert check(report, "active holds without exactly their tickets")["actual"] == 0
    assert 0 < raw["map_bytes_gzip"] < 12_000


# --- the harness's own pieces (no servers) ---------------------------------------------------


def test_minted_tokens_are_customer_tokens() -> None:
    from bench.tokens import Minter, customer_id
    from core.auth import principal_from_token
    from core.config import get_settings

    who = customer_id("buyer", 123_456)
    principal = principal_from_token(Minter(get_settings().jwt_secret).token(who))
    assert principal.customer_id == who
    assert not principal.is_admin


def test_kendall_tau() -> None:
    from bench.stats import kendall_tau

    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert kendall_tau([1, 2, 3, 4], [40, 30, 20, 10]) == -1.0
    assert kendall_tau([1, 2, 3, 4], [10, 30, 20, 40]) == pytest.approx(1 - 2 / 6)


def test_attempts_file_has_customers_and_retries(tmp_path: Path) -> None:
    from bench.scenarios.flash import write_attempts
    from bench.tokens import Minter

    path = tmp_path / "attempts.txt"
    customers, retries = write_attempts(path, minter=Minter("secret" * 8), attempts=1_100)
    lines = path.read_text().splitlines()
    assert (customers, retries, len(lines)) == (1_000, 100, 1_100)
    seen: dict[str, int] = {}
    repeats = 0
    for n, line in enumerate(lines):
        key = line.split(" ")[1]
        if key in seen:
            repeats += 1
            assert line == lines[seen[key]]  # same customer, same key, same request
        else:
            seen[key] = n
    assert repeats == 100
    assert len(seen) == 1_000
