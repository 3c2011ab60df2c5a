"""Settings, read once from the environment. Every name is listed in `.env.example`."""

from __future__ import annotations

import functools
import os

import msgspec


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str
    redis_url: str
    admin_token: str
    jwt_secret: str
    port: int = 8000
    db_pool_max: int = 20
    payments_url: str = "http://127.0.0.1:8100"
    payments_timeout_s: float = 3.0
    payments_retries: int = 2
    customer_token_ttl_s: int = 7 * 24 * 3600
    admission_ttl_s: int = 120
    lock_timeout_ms: int = 2000
    orders_max_jobs: int = 100
    orders_per_s: float = 2000.0
    orders_job_timeout_s: int = 30
    metrics_port: int = 0
    frontend_dist: str = "frontend/dist"
    log_json: bool = True


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@functools.cache
def get_settings() -> Settings:
    return Settings(
        database_url=_env("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        redis_url=_env("REDIS_URL", "redis://127.0.0.1:6379/0"),
        admin_token=_env("ADMIN_TOKEN", "dev-admin-token"),
        jwt_secret=_env("JWT_SECRET", "dev-only-secret-change-me-in-production-0123456789"),
        port=int(_env("PORT", "8000")),
        db_pool_max=int(_env("DB_POOL_MAX", "20")),
        payments_url=_env("PAYMENTS_URL", "http://127.0.0.1:8100"),
        payments_timeout_s=float(_env("PAYMENTS_TIMEOUT_S", "3.0")),
        payments_retries=int(_env("PAYMENTS_RETRIES", "2")),
        admission_ttl_s=int(_env("ADMISSION_TTL_S", "120")),
        lock_timeout_ms=int(_env("LOCK_TIMEOUT_MS", "2000")),
        orders_max_jobs=int(_env("ORDERS_MAX_JOBS", "100")),
        orders_per_s=float(_env("ORDERS_PER_S", "2000")),
        orders_job_timeout_s=int(_env("ORDERS_JOB_TIMEOUT_S", "30")),
        metrics_port=int(_env("METRICS_PORT", "0")),
        frontend_dist=_env("FRONTEND_DIST", "frontend/dist"),
        log_json=_env("LOG_JSON", "1") not in ("0", "false", "no"),
    )
