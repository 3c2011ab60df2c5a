"""Email through a real worker and the local SMTP sink: receipts with the e-ticket, refund
notices, password reset; retries with backoff when the relay is down."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from arq import Retry

from core.config import get_settings
from core.mail import Mail, mail_backoff_s
from core.mailsink import read_mailbox, start_sink
from core.resources import Resources
from jobs.tasks import mail as mail_tasks
from tests.integration.reservations.sale_helpers import admin, buy, new_customer, new_event
from tests.ports import any_free_port


@pytest.fixture
def sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    port = any_free_port()
    monkeypatch.setenv("SMTP_PORT", str(port))
    monkeypatch.setenv("MAIL_SINK_DIR", str(tmp_path))
    get_settings.cache_clear()
    controller = start_sink(tmp_path, host="127.0.0.1", port=port)
    yield tmp_path
    controller.stop()
    get_settings.cache_clear()


async def with_account(res: Resources, name: str) -> Any:
    customer = await new_customer(res, name=name)
    await res.pool.execute("UPDATE customers SET password_hash = 'x' WHERE id = $1", customer)
    return customer


async def wait_for_mail(sink: Path, count: int, **match: str) -> list[Any]:
    for _ in range(300):
        found = [m for m in read_mailbox(sink) if all(getattr(m, k) == v for k, v in match.items())]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no mail matching {match}: {read_mailbox(sink)}")


async def test_receipt_then_refund_notice(
    res: Resources, client: httpx.AsyncClient, worker: Any, sink: Path
) -> None:
    event_id = await new_event(res, name="Jazz night")
    buyer = await with_account(res, "Ana Souza")
    [purchase] = await buy(client, event_id, buyer)
    [receipt] = await wait_for_mail(sink, 1, kind="receipt")
    assert receipt.subject == "Your tickets for Jazz night" and "Ana Souza" in receipt.text
    assert purchase["id"] in receipt.text and "CP2." in receipt.text
    assert [a.content_type for a in receipt.attachments] == ["image/png"]

    listed = (await client.get("/api/dev/mail", headers=admin(res))).json()
    assert listed[0]["subject"] == receipt.subject
    png = await client.get(f"/api/dev/mail/{receipt.id}/attachments/0", headers=admin(res))
    assert png.content.startswith(b"\x89PNG")

    await client.post(f"/api/tickets/{purchase['id']}/refund", headers=admin(res))
    [notice] = await wait_for_mail(sink, 1, kind="refund")
    assert "refunded" in notice.subject and "50.00" in notice.text
    await asyncio.sleep(2.5)  # another sweep: the receipt is not sent twice
    assert len([m for m in read_mailbox(sink) if m.kind == "receipt"]) == 1


async def test_password_reset_by_email(
    res: Resources, client: httpx.AsyncClient, worker: Any, sink: Path
) -> None:
    r = await client.post(
        "/api/customers", json={"name": "Bea", "email": "bea@example.com", "password": "old-password"}
    )
    assert r.status_code == 201
    ask = await client.post("/api/password-resets", json={"email": "BEA@example.com"})
    assert ask.status_code == 202
    unknown = await client.post("/api/password-resets", json={"email": "nobody@example.com"})
    assert unknown.status_code == 202 and unknown.json() == ask.json()
    [letter] = await wait_for_mail(sink, 1, kind="password_reset")
    token = re.search(r"Reset code \(if the link does not open\): (\S+)", letter.text).group(1)  # type: ignore[union-attr]
    body = {"token": token, "password": "new-password"}
    assert (await client.post("/api/password-resets/confirm", json=body)).status_code == 204
    assert (await client.post("/api/password-resets/confirm", json=body)).status_code == 401  # used once
    login = await client.post("/api/sessions", json={"email": "bea@example.com", "password": "new-password"})
    assert login.status_code == 200
    bad = await client.post("/api/password-resets/confirm", json={"token": "nope", "password": "whatever1"})
    assert bad.status_code == 401


async def test_a_failed_send_is_retried_with_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PORT", str(any_free_port()))  # nobody listens there
    get_settings.cache_clear()
    try:
        message = {"to": "a@example.com", "subject": "s", "text": "t"}
        with pytest.raises(Retry) as retry:
            await mail_tasks.send({"job_try": 1}, message)
        assert retry.value.defer_score == 5000
        last = get_settings().mail_max_tries
        assert await mail_tasks.send({"job_try": last}, message) == "given_up"
    finally:
        get_settings.cache_clear()
    assert [mail_backoff_s(n) for n in (1, 2, 3, 10)] == [5, 10, 20, 600]
    assert Mail(to="x", subject="y", text="z").kind == "notice"
