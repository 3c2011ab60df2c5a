"""Settings, read once from the environment. Every name is listed in `.env.example`.

Each field of `Settings` is one setting: its default is written here and nowhere else,
and the environment variable of the same name in upper case overrides it (`port` is
`PORT`). Values are converted to the field's type (`PORT=8000` is an int; `LOG_JSON`
takes 1/0 or true/false); an empty variable counts as unset. A value that does not
convert stops the process at startup with a `SettingsError` naming the variable.
"""

from __future__ import annotations

import functools
import os
from typing import Any, TypeVar

import msgspec

S = TypeVar("S", bound=msgspec.Struct)


class SettingsError(ValueError):
    """An environment variable holds a value its setting cannot take."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    # `production` (any value but `dev`): a missing, fallback or short secret stops every
    # process at startup (core/credentials.py). `dev`: make run, the tests, the benchmarks.
    crowdpass_env: str = "production"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Redis behind Sentinel (docs/reliability.md): "host:port,host:port" of the sentinels;
    # when set, clients ask them for the primary of REDIS_SENTINEL_MASTER and follow a
    # failover; REDIS_URL then gives only the database number and password.
    redis_sentinels: str = ""
    redis_sentinel_master: str = "mymaster"
    admin_token: str = "dev-admin-token"  # noqa: S105 (dev fallback, refused in production)
    jwt_secret: str = "dev-only-secret-change-me-in-production-0123456789"  # noqa: S105 (dev fallback, refused in production)
    port: int = 8000
    db_pool_max: int = 20
    payments_url: str = "http://127.0.0.1:8100"
    # Where a browser reaches the payment provider to tokenise a card (`GET /api/config`
    # tells the web app; the page's CSP allows it). Empty: the same as `payments_url`.
    payments_public_url: str = ""
    payments_timeout_s: float = 3.0
    payments_retries: int = 2
    # Pooled keep-alive connections to the provider, per process: about the charges a second
    # wanted times the provider's latency (100 = 500/s at 200 ms). Idle ones wait on a stack
    # (core/keepalive.py, ADR 0021): a large number costs no more CPU per charge than a small one.
    payments_max_connections: int = 100
    # The circuit breaker in front of the provider (docs/reliability.md, "Payment outage"):
    # open after this many failed calls in a row, let one probe through after the cooldown.
    payments_breaker_failures: int = 5
    payments_breaker_cooldown_s: float = 5.0
    # An order the provider could not charge waits (tickets kept) and is retried with backoff
    # up to this long after it was accepted; then it is rejected `payment_unavailable`.
    payments_deadline_s: float = 600.0
    payments_backoff_max_s: float = 15.0
    # A hold confirm's charge still unsettled after this long (at least twice the longest
    # charge: timeout x tries) is reconciled: its hold settled or the charge refunded.
    hold_charge_grace_s: float = 60.0
    customer_token_ttl_s: int = 7 * 24 * 3600
    admission_ttl_s: int = 120
    # How long a waitlist offer keeps its returned tickets for the entry it called (seconds).
    waitlist_offer_ttl_s: int = 600
    # How long a WebSocket ticket (POST /api/ws-tickets) may wait for its one handshake.
    ws_ticket_ttl_s: int = 30
    # After a hold of a waiting-room sale expires, its visitor may come back at the front of
    # the line within this many seconds, once (0: never).
    grace_window_s: float = 120.0
    lock_timeout_ms: int = 2000
    # PostgreSQL timeouts of each query class (docs/reliability.md, "Query classes"). The API's
    # connections default to the read class: a read waits at most READ_LOCK_TIMEOUT_MS for a
    # lock and POOL_ACQUIRE_TIMEOUT_S for a connection, then answers 503 `busy`.
    read_lock_timeout_ms: int = 500
    api_statement_timeout_ms: int = 3000
    pool_acquire_timeout_s: float = 0.5
    write_pool_acquire_timeout_s: float = 10.0
    bulk_statement_timeout_ms: int = 60_000
    decision_statement_timeout_ms: int = 10_000
    worker_statement_timeout_ms: int = 30_000
    orders_max_jobs: int = 100
    orders_per_s: float = 2000.0
    orders_job_timeout_s: int = 30
    # POST /api/orders answered by its thin ASGI route in front of Litestar (same answers).
    orders_fast_route: bool = True
    metrics_port: int = 0
    frontend_dist: str = "frontend/dist"
    log_json: bool = True
    # Peers whose X-Forwarded-For names the client (comma-separated CIDRs; empty: nobody).
    trusted_proxies: str = ""
    # Rate limits (docs/security.md, "Rate limits"): requests per window per subject; 0: off.
    login_limit_per_address: int = 30
    login_limit_per_account: int = 10
    login_window_s: int = 60
    login_backoff_after: int = 5
    login_backoff_first_s: float = 1.0
    login_backoff_max_s: float = 900.0
    signup_limit_per_address: int = 20
    signup_window_s: int = 600
    waitlist_limit_per_address: int = 30
    waitlist_window_s: int = 600
    order_limit_per_customer: int = 20
    order_limit_per_address: int = 600
    order_window_s: int = 10
    event_limit_per_address: int = 60
    event_window_s: int = 60
    join_limit_per_customer: int = 30
    join_limit_per_address: int = 300
    join_window_s: int = 10
    # GET /api/events/{id}/codes/{code}/check per address (codes are not to be guessed).
    code_check_limit_per_address: int = 20
    code_check_window_s: int = 60
    # Holds naming a code, per customer and CODE_CHECK_WINDOW_S (codes are not to be guessed).
    code_limit_per_customer: int = 20
    # The most tickets one `POST /eventos` may create (the challenge face is anonymous).
    challenge_max_capacity: int = 100_000
    # After the sale (docs/after-sale.md): door tokens, password reset, links in emails.
    door_token_ttl_s: int = 24 * 3600
    reset_token_ttl_s: int = 30 * 60
    public_url: str = "http://localhost:8000"
    # Email over SMTP (docs/deployment.md). The defaults reach `make run`'s local mail sink.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_timeout_s: float = 10.0
    mail_from: str = "CrowdPass <tickets@crowdpass.localhost>"
    mail_max_tries: int = 8
    # Where the local mail sink stores what it receives; empty: no sink (the dev mail page is off).
    mail_sink_dir: str = ""

    @property
    def payments_browser_url(self) -> str:
        """The payment provider's base URL as a browser reaches it (no trailing slash)."""
        return (self.payments_public_url or self.payments_url).rstrip("/")


def env_name(field: str, prefix: str = "") -> str:
    """The environment variable that sets `field`: `PORT` for `port`."""
    return prefix + field.upper()


def from_env(cls: type[S], *, prefix: str = "") -> S:
    """An instance of the Struct `cls`, each field read from its environment variable
    (`env_name(field, prefix)`) when set and non-empty, else left at its default."""
    values: dict[str, Any] = {}
    for field in msgspec.structs.fields(cls):
        name = env_name(field.name, prefix)
        raw = os.environ.get(name)
        if not raw:
            continue
        try:
            values[field.name] = msgspec.convert(raw, field.type, strict=False)
        except msgspec.ValidationError:
            type_name = getattr(field.type, "__name__", str(field.type))
            msg = f"environment variable {name}={raw!r} is not a valid {type_name}"
            raise SettingsError(msg) from None
    return cls(**values)


@functools.cache
def get_settings() -> Settings:
    return from_env(Settings)
