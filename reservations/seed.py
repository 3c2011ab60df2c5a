"""Seed data: the challenge's clients and events (API.md section 1) and demo events."""

from __future__ import annotations

from core.db import Connection


async def seed(conn: Connection) -> None:
    return None
