"""After the sale, in Chromium against the running system: buy a ticket, read the receipt
from the mail sink, open the QR code, check in at the door page, see a second scan refused,
and refund another purchase whose ticket is then sold again."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import ADMIN_TOKEN, Api

pytestmark = pytest.mark.e2e


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(target)


def as_organizer(page: Any) -> None:
    page.evaluate("t => localStorage.setItem('crowdpass.admin', JSON.stringify(t))", ADMIN_TOKEN)
    page.reload()


def test_ticket_receipt_door_and_resale(api: Api, new_page: Any) -> None:
    event = api.create_event(name="After-sale night", capacity=2, price_cents=4000)

    # Buy in the browser.
    buyer = new_page()
    buyer.goto(f"/events/{event['id']}")
    buyer.get_by_role("button", name=re.compile(r"^Buy")).click()
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    buyer.get_by_label("Your name", exact=True).fill("Ana Porta")
    buyer.get_by_label("Email", exact=True).fill(email)
    buyer.get_by_label("Password", exact=True).fill("correct-horse")
    buyer.get_by_role("button", name="Create account and continue").click()
    buyer.get_by_label("Card number", exact=True).fill("4242424242424242")
    buyer.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(buyer.get_by_role("heading", name="You are going!")).to_be_visible()

    # The receipt reaches the mail sink (the worker's sweep, then SMTP); the dev page lists it.
    organizer = new_page()
    organizer.goto("/")
    as_organizer(organizer)
    receipt = None
    for _ in range(60):
        sunk = api.http.get("/api/dev/mail", params={"to": email}, headers=api.admin()).json()
        receipt = next((m for m in sunk if m["kind"] == "receipt"), None)
        if receipt:
            break
        time.sleep(0.5)
    assert receipt is not None, "no receipt in the mail sink"
    assert receipt["subject"] == "Your tickets for After-sale night"
    organizer.goto("/dev/mail")
    expect(organizer.get_by_test_id("mail").filter(has_text=email).first).to_be_visible()
    code = re.search(r"Code: (CP2\.\S+)", receipt["text"]).group(1)  # type: ignore[union-attr]

    # The QR code in My tickets.
    buyer.goto("/tickets")
    ticket = buyer.get_by_test_id("eticket").filter(has_text="After-sale night")
    expect(ticket.get_by_test_id("ticket-qr")).to_be_visible()
    assert buyer.evaluate("() => document.querySelector('[data-testid=ticket-qr]').naturalWidth") > 100
    assert ticket.get_by_test_id("eticket-code").text_content() == code

    # The door page: admitted, then refused.
    r = api.http.post(f"/api/events/{event['id']}/door-tokens", json={"door": "North"}, headers=api.admin())
    door_token = r.json()["token"]
    door = new_page()
    door.goto(f"/door/{event['id']}")
    door.get_by_label("Door token (or the organizer token)").fill(door_token)
    door.get_by_label("Ticket code").fill(code)
    door.get_by_role("button", name="Check in").click()
    expect(door.get_by_test_id("door-result")).to_contain_text("Admitted")
    door.get_by_label("Ticket code").fill(code)
    door.get_by_role("button", name="Check in").click()
    expect(door.get_by_test_id("door-result")).to_contain_text("Already checked in")
    expect(door.get_by_test_id("door-result")).to_contain_text("North")

    # Another purchase fills the event; the organizer refunds it and the ticket sells again.
    other = api.sign_up("Bruno Reembolso")
    bought = api.buy(other, event["id"])["purchases"][0]
    assert api.event(event["id"])["available"] == 0
    organizer.goto(f"/organizer/events/{event['id']}/manage")
    organizer.get_by_label("Ticket id").fill(bought["id"])
    organizer.get_by_role("button", name="Refund", exact=True).click()
    expect(organizer.get_by_test_id("manage-message")).to_contain_text(re.compile(r"Refunded .*40"))
    assert api.event(event["id"])["available"] == 1
    third = api.sign_up("Carla Revenda")
    again = api.buy(third, event["id"])["purchases"][0]
    assert again["ticket_id"] == bought["ticket_id"]


def test_door_checks_offline_and_syncs_when_back_online(api: Api, new_page: Any) -> None:
    """The door page without network: a valid code is admitted (checked in the browser with the
    event's public key), a forged one and a refunded one refused; back online, the scans are
    uploaded and the server keeps the first scan of each ticket."""
    event = api.create_event(name="Offline door night", capacity=5, price_cents=3000)
    purchases = {}
    for name in ("Ana Offline", "Bruno Revoked", "Carla Earlier"):
        purchases[name] = api.buy(api.sign_up(name), event["id"])["purchases"][0]

    def ticket(name: str) -> dict[str, Any]:
        r = api.http.get(f"/api/tickets/{purchases[name]['id']}", headers=api.admin())
        data: dict[str, Any] = r.json()
        return data

    codes = {name: ticket(name)["code"] for name in purchases}
    tokens = {}
    for name in ("North", "South"):
        r = api.http.post(f"/api/events/{event['id']}/door-tokens", json={"door": name}, headers=api.admin())
        tokens[name] = r.json()["token"]

    door = new_page()
    door.goto(f"/door/{event['id']}")
    door.get_by_label("Door token (or the organizer token)").fill(tokens["North"])
    network = door.get_by_test_id("door-network")
    expect(network).to_contain_text("0 revoked")
    # Bruno's ticket is refunded after the door took its kit; the door hears of it on its next
    # sync (only what changed since the last kit). South admits Carla online.
    r = api.http.post(f"/api/tickets/{purchases['Bruno Revoked']['id']}/refund", headers=api.admin())
    assert r.status_code == 200, r.text
    r = api.http.post(
        f"/api/events/{event['id']}/checkins",
        json={"code": codes["Carla Earlier"]},
        headers={"Authorization": f"Bearer {tokens['South']}"},
    )
    assert r.json()["result"] == "admitted"
    door.context.set_offline(True)
    door.context.set_offline(False)  # the 'online' event: the door syncs
    expect(network).to_contain_text("1 revoked")

    door.context.set_offline(True)
    expect(network).to_contain_text("Offline")
    result = door.get_by_test_id("door-result")

    def scan(code: str) -> None:
        door.get_by_label("Ticket code").fill(code)
        door.get_by_role("button", name="Check in").click()

    scan(codes["Ana Offline"])
    expect(result).to_contain_text("Admitted (checked offline)")
    expect(result).to_contain_text("Ana Offline")
    scan(codes["Ana Offline"][:-6] + "AAAAAA")
    expect(result).to_contain_text("Not a valid ticket")
    scan(codes["Bruno Revoked"])
    expect(result).to_contain_text("Refunded")
    scan(codes["Ana Offline"])
    expect(result).to_contain_text("Already checked in")
    scan(codes["Carla Earlier"])  # this door does not know South let her in
    expect(result).to_contain_text("Admitted (checked offline)")
    expect(door.get_by_test_id("door-pending")).to_contain_text("2 offline scan(s) to upload")
    assert ticket("Ana Offline")["state"] == "valid"  # nothing reached the server yet

    door.context.set_offline(False)
    expect(door.get_by_test_id("door-sync")).to_contain_text(
        "Uploaded 2 offline scan(s): 1 admitted, 1 refused (already checked in)"
    )
    expect(door.get_by_test_id("door-pending")).to_contain_text("0 offline scan(s) to upload")
    expect(network).to_contain_text("Online")
    ana, carla = ticket("Ana Offline"), ticket("Carla Earlier")
    assert ana["state"] == "checked_in" and ana["checked_in_door"] == "North"
    assert carla["state"] == "checked_in" and carla["checked_in_door"] == "South"  # the first scan won
    # Online again, a new scan of Ana's ticket is answered by the server.
    scan(codes["Ana Offline"])
    expect(result).to_contain_text("Already checked in")
    expect(result).not_to_contain_text("offline")
    expect(result).to_contain_text("North")
