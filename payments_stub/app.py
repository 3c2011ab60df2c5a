"""The payments stub application."""

from __future__ import annotations

from litestar import Litestar


def create_app() -> Litestar:
    return Litestar(route_handlers=[])


app = create_app()
