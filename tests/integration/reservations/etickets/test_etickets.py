"""E-tickets: the holder sees the ticket, its QR code and printable page; codes are signed."""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from core.resources import Resources
from reservations.etickets.codes import TicketCode, event_public_key, read_code, sign_code
from tests.integration.reservations.sale_helpers import admin, auth, buy, new_customer, new_event


async def test_the_holder_gets_the_ticket_qr_and_page(res: Resources, client: httpx.AsyncClient) -> None:
    event_id = await new_event(res, name="Rock night")
    buyer = await new_customer(res, name="Ana Souza")
    [purchase] = await buy(client, event_id, buyer)

    r = await client.get(f"/api/tickets/{purchase['id']}", headers=auth(buyer))
    assert r.status_code == 200, r.text
    ticket = r.json()
    assert ticket["event_name"] == "Rock night"
    assert ticket["holder"] == "Ana Souza"
    assert ticket["seat"] == "General admission"
    assert ticket["state"] == "valid"
    code = read_code(ticket["code"])
    assert code is not None and str(code.purchase_id) == purchase["id"] and code.event_id == event_id
    assert read_code(ticket["code"], public_key=event_public_key(event_id)) == code  # a door, offline

    png = await client.get(ticket["qr_png"], headers=auth(buyer))
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    page = await client.get(ticket["page"], headers=auth(buyer))
    assert page.status_code == 200 and "Ana Souza" in page.text and "data:image/png;base64," in page.text

    mine = await client.get("/api/tickets", headers=auth(buyer))
    assert [t["id"] for t in mine.json()] == [purchase["id"]]
    assert (await client.get(f"/api/tickets/{purchase['id']}", headers=admin(res))).status_code == 200


async def test_nobody_else_sees_a_ticket(res: Resources, client: httpx.AsyncClient) -> None:
    event_id = await new_event(res)
    buyer, other = await new_customer(res), await new_customer(res)
    [purchase] = await buy(client, event_id, buyer)
    assert (await client.get(f"/api/tickets/{purchase['id']}", headers=auth(other))).status_code == 404
    assert (await client.get(f"/api/tickets/{purchase['id']}/qr.png")).status_code == 401
    assert (await client.get("/api/tickets/not-a-uuid", headers=auth(buyer))).status_code == 400


def test_a_changed_code_is_refused() -> None:
    ticket = TicketCode(
        purchase_id=uuid.uuid4(), event_id=uuid.uuid4(), holder="Ana", seat="General admission"
    )
    code = sign_code(ticket)
    assert read_code(code) == ticket
    prefix, _payload, signature = code.split(".")
    tampered = sign_code(
        TicketCode(purchase_id=ticket.purchase_id, event_id=ticket.event_id, holder="Bob", seat="x")
    )
    assert read_code(f"{prefix}.{tampered.split('.')[1]}.{signature}") is None
    assert read_code(code, public_key=event_public_key(uuid.uuid4())) is None  # another event's key
    assert read_code(code, public_key=b"short") is None
    for bad in ("", "CP2", "CP2.x.y", "XX1.a.b", code + "A", "CP2.!!.??", f"CP2.{_payload}.AAAA", "CP2.é.é"):
        assert read_code(bad) is None


def test_a_code_is_a_standard_ed25519_signature_under_the_events_public_key() -> None:
    """What a door checks offline is plain Ed25519 over `CP2.<payload>` (the browser's
    @noble/curves does the same); the public key cannot sign, and other events' keys differ."""
    ticket = TicketCode(purchase_id=uuid.uuid4(), event_id=uuid.uuid4(), holder="Ana", seat="Section A")
    code = sign_code(ticket)
    prefix, payload, signature = code.split(".")
    public = Ed25519PublicKey.from_public_bytes(event_public_key(ticket.event_id))
    raw_signature = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    public.verify(raw_signature, f"{prefix}.{payload}".encode())  # raises when wrong
    with pytest.raises(InvalidSignature):
        public.verify(raw_signature, f"{prefix}.{payload}A".encode())
    assert len(event_public_key(ticket.event_id)) == 32
    assert event_public_key(ticket.event_id) != event_public_key(uuid.uuid4())
