"""Password reset by email: ask (always the same answer, so accounts cannot be probed),
then set a new password with the one-use link's token (core/auth.py)."""

from __future__ import annotations

import urllib.parse

from arq.connections import ArqRedis

from core import auth
from core.config import get_settings
from core.db import Connection, queries_beside
from core.errors import Unauthorized
from core.mail import Mail
from reservations.customers.schemas import clean_email
from reservations.mail.service import queue_mail

Q = queries_beside(__file__)


async def request_reset(conn: Connection, redis: ArqRedis, *, email: str) -> None:
    """Queue a reset link to the account's address, if there is such an account."""
    row = await conn.fetchrow(Q.find_account, clean_email(email))
    if row is None:
        return
    settings = get_settings()
    token = auth.issue_reset_token(
        row["id"], password_hash=row["password_hash"], ttl_s=settings.reset_token_ttl_s
    )
    link = f"{settings.public_url}/reset-password?token={urllib.parse.quote(token)}"
    minutes = settings.reset_token_ttl_s // 60
    text = (
        f"Hello {row['name']},\n\nSomeone (hopefully you) asked to reset your CrowdPass password.\n"
        f"Choose a new one within {minutes} minutes here:\n\n  {link}\n\n"
        f"Reset code (if the link does not open): {token}\n\nIf it was not you, ignore this email.\n"
    )
    await queue_mail(
        redis,
        Mail(to=row["email"], subject="Reset your CrowdPass password", text=text, kind="password_reset"),
    )


async def reset_password(conn: Connection, *, token: str, password: str) -> None:
    """Set the new password; the token works once (it names the password it replaces)."""
    customer_id, fingerprint = auth.read_reset_token(token)
    new_hash = await auth.hash_password(password)
    async with conn.transaction():
        row = await conn.fetchrow(Q.lock_account, customer_id)
        if row is None or auth.password_fingerprint(row["password_hash"]) != fingerprint:
            raise Unauthorized("The reset link is invalid, expired or already used.")
        await conn.execute(Q.set_password, customer_id, new_hash)
