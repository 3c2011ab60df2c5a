"""After the sale, in Chromium against the running system: buy a ticket, read the receipt
from the mail sink, open the QR code, check in at the door page, see a second scan refused,
and refund another purchase, found in the organizer's purchase list, whose ticket is then
sold again; buyers see the cancel policy and cancel within it; the door page checks codes
offline and uploads its scans when the network is back."""

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

    # Another purchase fills the event; the organizer finds it in the event's purchase list (by
    # the buyer's email), refunds it with its row's button, and the ticket sells again.
    other = api.sign_up("Bruno Reembolso")
    bought = api.buy(other, event["id"])["purchases"][0]
    assert api.event(event["id"])["available"] == 0
    organizer.goto(f"/organizer/events/{event['id']}/manage")
    expect(organizer.get_by_test_id("purchases-count")).to_contain_text("2 purchase(s)")
    organizer.get_by_label("Search by buyer email, name, ticket id or code").fill(other["email"].upper())
    organizer.get_by_role("button", name="Search", exact=True).click()
    expect(organizer.get_by_test_id("purchases-count")).to_contain_text("1 purchase(s) matching")
    row = organizer.get_by_test_id("purchase-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Bruno Reembolso")
    dialogs: list[str] = []
    organizer.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    row.get_by_role("button", name="Refund").click()
    expect(organizer.get_by_test_id("manage-message")).to_contain_text("Refunded R$40.00 to Bruno Reembolso")
    assert "R$40.00" in dialogs[0] and "in full" in dialogs[0]
    expect(row.get_by_test_id("purchase-state")).to_contain_text("refunded")
    expect(row.get_by_role("button", name="Refund")).to_have_count(0)
    assert api.event(event["id"])["available"] == 1
    third = api.sign_up("Carla Revenda")
    again = api.buy(third, event["id"])["purchases"][0]
    assert again["ticket_id"] == bought["ticket_id"]
    # A ticket code pasted into the search finds that one purchase.
    organizer.get_by_label("Search by buyer email, name, ticket id or code").fill(code)
    organizer.get_by_role("button", name="Search", exact=True).click()
    expect(organizer.get_by_test_id("purchases-count")).to_contain_text("1 purchase(s) matching")
    expect(row).to_contain_text("Ana Porta")


def test_buyers_see_the_cancel_policy_and_cancel_within_it(api: Api, new_page: Any) -> None:
    """The event page and "My tickets" show the organizer's cancel deadline and fee; the
    cancel button is there only while cancelling is allowed, and states the fee first."""
    closed = api.create_event(name="No-refund gala", price_cents=4000)
    event = api.create_event(name="Flexible fest", price_cents=4000)
    until = "2031-05-30T12:00:00Z"
    r = api.http.patch(
        f"/api/events/{event['id']}",
        json={"buyer_cancel_until": until, "cancel_fee_cents": 500},
        headers=api.admin(),
    )
    assert r.status_code == 200, r.text
    buyer = api.sign_up("Dora Cancela")
    api.buy(buyer, event["id"])
    api.buy(buyer, closed["id"])

    page = new_page()
    page.goto(f"/events/{event['id']}")
    expect(page.get_by_test_id("cancel-policy")).to_contain_text("Cancel until")
    expect(page.get_by_test_id("cancel-policy")).to_contain_text("2031")
    expect(page.get_by_test_id("cancel-policy")).to_contain_text("a fee of R$5.00 is kept")
    page.goto(f"/events/{closed['id']}")
    expect(page.get_by_test_id("cancel-policy")).to_have_text("Tickets cannot be cancelled by buyers.")

    page.goto("/")
    page.evaluate(
        "s => localStorage.setItem('crowdpass.session', JSON.stringify(s))",
        {"token": buyer["token"], "customer": buyer["customer"]},
    )
    page.goto("/tickets")
    flexible = page.get_by_test_id("eticket").filter(has_text="Flexible fest")
    gala = page.get_by_test_id("eticket").filter(has_text="No-refund gala")
    expect(flexible.get_by_test_id("eticket-cancel-policy")).to_contain_text("a fee of R$5.00 is kept")
    expect(gala.get_by_test_id("eticket-cancel-policy")).to_have_text(
        "Tickets cannot be cancelled by buyers."
    )
    expect(gala.get_by_role("button", name=re.compile("Cancel ticket"))).to_have_count(0)

    # The fee is stated before confirming; dismissing changes nothing.
    dialogs: list[str] = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    flexible.get_by_role("button", name="Cancel ticket (fee R$5.00)").click()
    expect(flexible.get_by_test_id("eticket-state")).to_have_text("valid")
    assert "A fee of R$5.00 is kept: R$35.00 comes back to your card." in dialogs[0]
    page.once("dialog", lambda d: d.accept())
    flexible.get_by_role("button", name="Cancel ticket (fee R$5.00)").click()
    expect(page.get_by_role("status").filter(has_text="Cancelled")).to_contain_text(
        "Cancelled: R$35.00 refunded (fee R$5.00)."
    )
    expect(flexible.get_by_test_id("eticket-state")).to_have_text("refunded")
    expect(flexible.get_by_role("button", name=re.compile("Cancel ticket"))).to_have_count(0)
    assert api.event(event["id"])["available"] == event["capacity"]

    # Once the deadline has passed, the button is gone and the ticket says cancelling closed.
    r = api.http.patch(
        f"/api/events/{closed['id']}",
        json={"buyer_cancel_until": "2020-01-01T00:00:00Z"},
        headers=api.admin(),
    )
    assert r.status_code == 200, r.text
    page.reload()
    expect(gala.get_by_test_id("eticket-cancel-policy")).to_contain_text("Cancelling closed on")
    expect(gala.get_by_role("button", name=re.compile("Cancel ticket"))).to_have_count(0)


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
