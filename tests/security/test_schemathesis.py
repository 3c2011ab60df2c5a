"""Fuzzing: schemathesis generates requests for every operation of the API's own OpenAPI
(valid ones and invalid ones) and checks each answer against that document: no 5xx, the
status is documented for the operation, the body matches the documented schema and the
content type is the documented one. Once as a customer, once as the organizer.

Bounded and derandomized, so a run is repeatable: the same cases every time. WebSocket
routes are not in the OpenAPI and so not fuzzed. docs/security.md, "Fuzzing".
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import httpx
import pytest
import requests
import schemathesis
import schemathesis.checks
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from core.config import Settings
from core.resources import Resources
from reservations.seed import demo_event_id

# Examples per operation and generation mode; FUZZ_EXAMPLES=200 for a deeper run by hand.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
# Headers that frame the HTTP message itself: a made-up value (`transfer-encoding: abc`) is
# refused by the HTTP server (uvicorn's parser, a text/plain 400) before the app sees the
# request, so it says nothing about the API. Generated ones are dropped.
FRAMING_HEADERS = frozenset({"transfer-encoding", "content-length", "connection", "host", "te", "upgrade"})

pytestmark = pytest.mark.timeout(300)


def _checks() -> list[Any]:
    c = schemathesis.checks
    return [
        c.not_a_server_error,
        c.status_code_conformance,
        c.content_type_conformance,
        c.response_schema_conformance,
        c.response_headers_conformance,
        c.negative_data_rejection,  # an invalid request (by the schema) gets a 4xx
    ]


def _fuzz(base_url: str, token: str, known: dict[str, str]) -> tuple[list[str], int]:
    """Every operation, both generation modes, with random path ids and (to get past the
    404s) again with the `known` ids of existing rows; the failures found (one per operation
    and pass: hypothesis stops at the first) and the number of requests sent."""
    schema = schemathesis.openapi.from_url(f"{base_url}/schema/openapi.json")
    checks = _checks()
    failures: list[str] = []
    sent = 0
    with requests.Session() as session:
        headers = {"Authorization": f"Bearer {token}"}
        for result in schema.get_all_operations():
            operation = result.ok()
            names = {p.name for p in operation.path_parameters}
            fixed = {name: value for name, value in known.items() if name in names}
            passes = [(mode, {}) for mode in MODES] + [(mode, fixed) for mode in MODES if fixed]
            for mode, path_parameters in passes:

                @given(
                    case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None)
                )
                @settings(
                    max_examples=EXAMPLES,
                    derandomize=True,
                    database=None,
                    deadline=None,
                    phases=[Phase.explicit, Phase.generate],  # the first failure is enough: no shrinking
                    suppress_health_check=list(HealthCheck),
                    report_multiple_bugs=False,
                )
                def run(case: Any) -> None:
                    nonlocal sent
                    sent += 1
                    for name in [n for n in case.headers or {} if n.lower() in FRAMING_HEADERS]:
                        del case.headers[name]
                    case.call_and_validate(base_url=base_url, session=session, headers=headers, checks=checks)

                try:
                    run()
                except Unsatisfiable:  # nothing to make invalid (an operation without inputs)
                    continue
                except (Exception, BaseExceptionGroup) as exc:  # report every operation's, not only the first
                    ids = " with known ids" if path_parameters else ""
                    failures.append(f"{operation.label} ({mode.value}{ids}): {exc}")
    return failures, sent


async def _known_ids(base_url: str) -> tuple[str, dict[str, str]]:
    """A signed-up customer's token, and the path ids of rows that exist: the seeded
    flash-sale event (it has a waiting room), the customer, a hold and an order of theirs
    (on the seeded seated event)."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        signed_up = await client.post(
            "/api/customers",
            json={"name": "Fuzz Tester", "email": "fuzz@example.com", "password": "a long password 123"},
        )
        assert signed_up.status_code == 201, signed_up.text
        token = signed_up.json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        seated = str(demo_event_id(1))
        seats = await client.get(f"/api/events/{seated}/seats")
        assert seats.status_code == 200, seats.text
        seat = seats.json()[0]["id"]
        hold = await client.post(f"/api/events/{seated}/holds", json={"seat_ids": [seat]}, headers=auth)
        assert hold.status_code == 201, hold.text
        order = await client.post(
            "/api/orders",
            json={"event_id": seated, "payment_method": "pm_card_visa"},
            headers={**auth, "Idempotency-Key": "fuzz-order"},
        )
        assert order.status_code == 202, order.text
    return token, {
        "event_id": str(demo_event_id(2)),
        "customer_id": signed_up.json()["customer"]["id"],
        "hold_id": hold.json()["id"],
        "order_id": order.json()["id"],
    }


@pytest.mark.parametrize("who", ["customer", "organizer"])
async def test_every_operation_answers_as_documented(
    who: str, seeded: Resources, live_server: str, settings: Settings
) -> None:
    token, known = await _known_ids(live_server)
    if who == "organizer":
        token = settings.admin_token
    started = time.monotonic()
    # Schemathesis is synchronous: it runs in a thread while this loop serves the API.
    failures, sent = await asyncio.to_thread(_fuzz, live_server, token, known)
    print(f"schemathesis as {who}: {sent} requests in {time.monotonic() - started:.1f} s")
    assert not failures, f"{len(failures)} operation(s) fail:\n\n" + "\n\n".join(failures)
