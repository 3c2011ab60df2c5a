"""The payments stub application: `uvicorn payments_stub.app:app`, or `create_app()`.

Configured from the `PAYMENTS_` settings (payments_stub/service.py, `StubConfig`), or from
a `StubConfig` passed to `create_app`. CORS lets the web app's origins
(PAYMENTS_CORS_ORIGINS) tokenise a card from the browser.
"""

from __future__ import annotations

import random

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig

from core.errors import exception_handlers
from payments_stub.routes import route_handlers
from payments_stub.service import ChargeStore, StubConfig


def create_app(config: StubConfig | None = None, *, rng: random.Random | None = None) -> Litestar:
    config = config or StubConfig.from_env()
    store = ChargeStore(config=config, rng=rng or random.Random())  # noqa: S311
    return Litestar(
        route_handlers=route_handlers,
        cors_config=CORSConfig(
            allow_origins=config.origins, allow_methods=["GET", "POST"], allow_headers=["Content-Type"]
        ),
        state=State({"store": store}),
        exception_handlers=exception_handlers,
        request_max_body_size=16 * 1024,
        openapi_config=OpenAPIConfig(title="CrowdPass payments stub", version="0.1.0", path="/schema"),
    )


app = create_app()
