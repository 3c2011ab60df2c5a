"""The payments stub application: `uvicorn payments_stub.app:app`, or `create_app()`.

Configured from PAYMENTS_LATENCY_MS, PAYMENTS_FAILURE_RATE and PAYMENTS_SLOW_CARD_DELAY_S
(see payments_stub/service.py), or from a `StubConfig` passed to `create_app`.
"""

from __future__ import annotations

import random

from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig

from core.errors import exception_handlers
from payments_stub.routes import route_handlers
from payments_stub.service import ChargeStore, StubConfig


def create_app(config: StubConfig | None = None, *, rng: random.Random | None = None) -> Litestar:
    store = ChargeStore(config=config or StubConfig.from_env(), rng=rng or random.Random())  # noqa: S311
    return Litestar(
        route_handlers=route_handlers,
        state=State({"store": store}),
        exception_handlers=exception_handlers,
        request_max_body_size=16 * 1024,
        openapi_config=OpenAPIConfig(title="CrowdPass payments stub", version="0.1.0", path="/schema"),
    )


app = create_app()
