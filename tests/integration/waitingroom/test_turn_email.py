"""'Your turn' by email (docs/waiting-room.md): a waiting visitor may leave an address;
at their admission a job queues the email, and the mail worker sends it to the local sink."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from core.mailsink import read_mailbox
from core.resources import Resources
from tests.factories import make_event
from tests.integration.reservations.mail.test_mail import sink, wait_for_mail
from tests.integration.waitingroom.test_visitors import bearer, newcomer
from waitingroom import keys

__all__ = ["sink"]  # the fixture, used by name


async def test_a_visitor_who_left_an_address_is_told_their_turn_once(
    res: Resources, client: httpx.AsyncClient, worker: Any, sink: Path
) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=5, name="Jazz night")
    organizer = bearer(res.settings.admin_token)
    controls = f"/api/events/{event_id}/waiting-room"
    assert (await client.patch(controls, json={"paused": True}, headers=organizer)).status_code == 200
    ana, _ = await newcomer(client, event_id)
    bruno, _ = await newcomer(client, event_id)
    email = f"/api/events/{event_id}/queue/me/email"

    bad = await client.put(email, json={"email": "not an address"}, headers=bearer(ana))
    unknown = await client.put(
        f"/api/events/{uuid.uuid4()}/queue/me/email", json={"email": "a@example.com"}, headers=bearer(ana)
    )
    stored_after_bad = await res.redis.hlen(keys.notify(event_id))
    kept = await client.put(email, json={"email": " ana@example.com "}, headers=bearer(ana))
    assert (await client.patch(controls, json={"paused": False}, headers=organizer)).status_code == 200

    [mail] = await wait_for_mail(sink, 1, kind="your_turn")
    me = (await client.get(f"/api/events/{event_id}/queue/me", headers=bearer(ana))).json()
    bruno_me = (await client.get(f"/api/events/{event_id}/queue/me", headers=bearer(bruno))).json()

    assert bad.status_code == 400 and bad.json()["field"] == "email"
    assert unknown.status_code == 404
    assert stored_after_bad == 0  # the refused address wrote nothing
    assert kept.status_code == 200 and kept.json() == {"email": "ana@example.com"}
    assert me["status"] == "admitted" and bruno_me["status"] == "admitted"
    assert mail.to == "ana@example.com" and mail.subject == "Your turn: tickets for Jazz night"
    assert f"/events/{event_id}/queue" in mail.text
    assert [m.to for m in read_mailbox(sink)] == ["ana@example.com"]  # Bruno left none
    assert await res.redis.hlen(keys.notify(event_id)) == 0  # told once: forgotten


async def test_only_a_waiting_visitor_leaves_an_address(res: Resources, client: httpx.AsyncClient) -> None:
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, waiting_room=True, capacity=5)
    ana, _ = await newcomer(client, event_id)
    email = f"/api/events/{event_id}/queue/me/email"
    await client.delete(f"/api/events/{event_id}/queue/me", headers=bearer(ana))

    gone = await client.put(email, json={"email": "ana@example.com"}, headers=bearer(ana))
    anonymous = await client.put(email, json={"email": "ana@example.com"})
    extra = await client.put(email, json={"email": "a@example.com", "x": 1}, headers=bearer(ana))

    assert gone.status_code == 404 and gone.json()["error"] == "not_in_queue"
    assert anonymous.status_code == 401
    assert extra.status_code == 400
    assert await res.redis.hlen(keys.notify(event_id)) == 0
