"""Client addresses: X-Forwarded-For is believed only from a trusted proxy (TRUSTED_PROXIES).

Before, uvicorn rewrote the client from any X-Forwarded-For sent by a peer it trusted
(127.0.0.1 as the launcher started it; everyone under compose's `--forwarded-allow-ips=*`),
so a random header per request walked around every per-address limit.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from core.config import get_settings
from core.launcher import Command, Launcher, uvicorn
from core.resources import Resources
from tests.factories import make_customers, make_event
from tests.ports import any_free_port
from tests.security.conftest import customer_auth

JOIN_LIMIT_PER_ADDRESS = 5


def _random_address() -> str:
    return ".".join(str(random.randint(1, 254)) for _ in range(4))


@pytest.fixture
def api_process(res: Resources) -> Iterator[str]:
    """The API served as core.launcher serves it (make run, benchmarks, e2e), on this
    test's servers, with a low per-address join limit."""
    import os

    port = any_free_port()
    env = {
        **os.environ,
        "CROWDPASS_ENV": "dev",
        "JWT_SECRET": get_settings().jwt_secret,
        "ADMIN_TOKEN": get_settings().admin_token,
        "JOIN_LIMIT_PER_ADDRESS": str(JOIN_LIMIT_PER_ADDRESS),
        "LOG_JSON": "0",
    }
    with Launcher(env) as running:
        running.start(Command("api", uvicorn("app:create_app", host="127.0.0.1", port=port, factory=True)))
        running.wait_http(f"http://127.0.0.1:{port}/health", timeout_s=30)
        yield f"http://127.0.0.1:{port}"


async def test_a_random_forwarded_for_does_not_escape_the_join_limit(
    res: Resources, api_process: str
) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True)
        customers = await make_customers(conn, 2 * JOIN_LIMIT_PER_ADDRESS)
    async with httpx.AsyncClient(base_url=api_process) as client:
        codes = [
            (
                await client.post(
                    f"/api/events/{event_id}/queue",
                    headers=customer_auth(c) | {"X-Forwarded-For": _random_address()},
                )
            ).status_code
            for c in customers
        ]
    assert codes[:JOIN_LIMIT_PER_ADDRESS] == [200] * JOIN_LIMIT_PER_ADDRESS
    assert set(codes[JOIN_LIMIT_PER_ADDRESS:]) == {429}


async def _sign_ups_from(res: Resources, peer: str, forwarded_for: list[str]) -> list[int]:
    """Status of one sign-up per X-Forwarded-For value, each from the TCP peer `peer`."""
    from app import create_app

    app = create_app(resources=res)
    transport = httpx.ASGITransport(app=app, client=(peer, 4000))
    codes = []
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        for header in forwarded_for:
            body = {
                "name": "Rita Lee",
                "email": f"{uuid.uuid4().hex[:12]}@example.com",
                "password": "long enough",
            }
            r = await c.post("/api/customers", json=body, headers={"X-Forwarded-For": header})
            codes.append(r.status_code)
    return codes


async def test_a_trusted_proxy_names_the_client_and_nothing_left_of_it_counts(
    res: Resources, setting: Callable[..., None]
) -> None:
    setting(TRUSTED_PROXIES="10.0.0.0/8, 192.0.2.10/32", SIGNUP_LIMIT_PER_ADDRESS=1)
    codes = await _sign_ups_from(
        res,
        "10.1.2.3",
        [
            "198.51.100.7",  # Alice
            "198.51.100.8, 192.0.2.10",  # Bob, through a second trusted hop
            # Alice again, prefixing a made-up address: only the hops our proxies wrote count.
            f"{_random_address()}, 198.51.100.7",
        ],
    )
    assert codes == [201, 201, 429]


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    res: Resources, setting: Callable[..., None]
) -> None:
    setting(TRUSTED_PROXIES="10.0.0.0/8", SIGNUP_LIMIT_PER_ADDRESS=1)
    codes = await _sign_ups_from(res, "203.0.113.9", [_random_address(), _random_address()])
    assert codes == [201, 429]
