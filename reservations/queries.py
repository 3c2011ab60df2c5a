"""Every named query of the domain, loaded once from `sql/*.sql`."""

from __future__ import annotations

from pathlib import Path

from core.db import load_queries

SQL_DIR = Path(__file__).parent / "sql"
Q = load_queries(*sorted(SQL_DIR.glob("*.sql")))
