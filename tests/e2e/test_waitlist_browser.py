"""The waitlist in Debian's Chromium against the whole running system (tests/e2e/conftest.py):
a sold-out event, a buyer joins its waitlist in the browser, a ticket comes back, the first
in line is called (banner and email), opens the email's link and buys the ticket with a
discount code (docs/codes.md).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import ADMIN_TOKEN, Api
from tests.e2e.test_browser import expect, log_in, pay

pytestmark = pytest.mark.e2e

PRICE_CENTS = 8000


def mail_to(api: Api, email: str, kind: str, *, within_s: float = 30) -> dict[str, Any]:
    """The first email of `kind` to `email` in the mail sink (the worker sends it over SMTP)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        sunk = api.http.get("/api/dev/mail", params={"to": email}, headers=api.admin()).json()
        found = next((m for m in sunk if m["kind"] == kind), None)
        if found:
            return dict(found)
        time.sleep(0.5)
    raise AssertionError(f"no {kind} email to {email} in the mail sink")


def test_a_returned_ticket_reaches_the_first_waitlisted_buyer_who_buys_it_with_a_code(
    api: Api, new_page: Any
) -> None:
    event = api.create_event(name="Waitlist night", capacity=1, price_cents=PRICE_CENTS)
    event_id = event["id"]
    r = api.http.post(
        f"/api/events/{event_id}/codes",
        json={"code": "WAITED-25", "kind": "discount", "percent_off": 25},
        headers=api.admin(),
    )
    assert r.status_code == 201, r.text
    # Sold out: someone holds the only ticket.
    first = api.sign_up("Primeira Pessoa")
    held = api.http.post(
        f"/api/events/{event_id}/holds",
        json={"quantity": 1},
        headers={"Authorization": f"Bearer {first['token']}"},
    )
    assert held.status_code == 201, held.text

    # Ana joins the waitlist on the sold-out event page.
    ana = api.sign_up("Ana Souza")
    page = new_page()
    sockets: list[Any] = []
    page.on("websocket", lambda ws: sockets.append(ws))
    page.goto("/")
    log_in(page, ana)
    page.goto(f"/events/{event_id}")
    expect(page.get_by_role("heading", name="Sold out")).to_be_visible()
    expect(page.get_by_label("Email for the waitlist")).to_have_value(ana["email"])
    page.get_by_role("button", name="Join the waitlist").click()
    expect(page.get_by_test_id("waitlist-position")).to_have_text("You are next in line")
    # Someone after her, by address only.
    later = api.http.post(f"/api/events/{event_id}/waitlist", json={"email": "bruno@example.com"})
    assert later.status_code == 201 and later.json()["position"] == 2, later.text

    # Her page listens on her /api/ws channel for the call, and stops asking once it is open.
    deadline = time.monotonic() + 10
    while not any("/api/ws?ticket=" in ws.url and not ws.is_closed() for ws in sockets):
        assert time.monotonic() < deadline, [ws.url for ws in sockets]
        page.wait_for_timeout(100)
    page.wait_for_timeout(500)  # the entry's read after the join is answered
    reads: list[str] = []
    page.on("request", lambda r: reads.append(r.url) if "/waitlist/me" in r.url else None)

    # The ticket comes back: the holder cancels. Nobody else can take it now.
    r = api.http.delete(
        f"/api/holds/{held.json()['id']}", headers={"Authorization": f"Bearer {first['token']}"}
    )
    assert r.status_code == 204
    stranger = api.sign_up("Quem Chegou Depois")
    taken = api.http.post(
        f"/api/events/{event_id}/holds",
        json={"quantity": 1},
        headers={"Authorization": f"Bearer {stranger['token']}"},
    )
    assert taken.status_code == 409 and taken.json()["error"] == "sold_out", taken.text

    # Ana is called: the banner on the page she has open, and an email with the link.
    expect(page.get_by_text("A ticket came back for you")).to_be_visible(timeout=8_000)
    assert reads == []  # the socket brought it
    expect(page.get_by_test_id("offer-countdown")).to_have_text(re.compile(r"^(10:00|9:[0-5]\d)$"))
    mail = mail_to(api, ana["email"], "waitlist_offer")
    link = re.search(r"(http\S+\?offer=\S+)", mail["text"]).group(1)  # type: ignore[union-attr]
    assert link.startswith(api.base) or f"/events/{event_id}?offer=" in link

    # The email's link opens the event with the offer's countdown; she buys the kept ticket.
    page.goto(link[link.index("/events/") :])
    expect(page.get_by_role("heading", name="Your turn from the waitlist")).to_be_visible()
    expect(page.get_by_test_id("offer-countdown")).to_have_text(re.compile(r"^(10:00|9:[0-5]\d)$"))
    page.get_by_role("button", name="Buy 1 ticket").click()
    expect(page).to_have_url(re.compile(r"/checkout/"))
    expect(page.get_by_test_id("countdown")).to_be_visible()
    # The checkout is the ordinary one: she applies the discount code she was given.
    expect(page.locator("p.total")).to_contain_text(re.compile(r"80[.,]00"))
    page.get_by_label("Have a discount code?").fill("waited-25")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("hold-code")).to_contain_text("WAITED-25")
    expect(page.locator("p.total")).to_contain_text(re.compile(r"60[.,]00"))
    paid_cents = PRICE_CENTS * 3 // 4
    pay(page)
    expect(page.get_by_role("heading", name="You are going!")).to_be_visible()

    live = api.event(event_id)
    assert (live["sold"], live["held"], live["available"]) == (1, 0, 0)
    purchases = api.http.get(
        f"/api/customers/{ana['customer']['id']}", headers={"Authorization": f"Bearer {ana['token']}"}
    ).json()["purchases"]
    assert [(p["event_id"], p["price_cents"]) for p in purchases] == [(event_id, paid_cents)]
    [used] = api.http.get(f"/api/events/{event_id}/codes", headers=api.admin()).json()
    assert (used["confirmed"], used["revenue_cents"], used["discount_cents"]) == (
        1,
        paid_cents,
        PRICE_CENTS - paid_cents,
    )
    listing = api.http.get(f"/api/events/{event_id}/waitlist", headers=api.admin()).json()
    assert [(e["email"], e["status"]) for e in listing["entries"]] == [
        (ana["email"], "used"),
        ("bruno@example.com", "waiting"),
    ]

    # The organizer sees the list and turns it off.
    organizer = new_page()
    organizer.goto("/")
    organizer.evaluate("t => localStorage.setItem('crowdpass.admin', JSON.stringify(t))", ADMIN_TOKEN)
    organizer.goto(f"/organizer/events/{event_id}")
    expect(organizer.get_by_role("heading", name="Waitlist", exact=True)).to_be_visible()
    expect(organizer.get_by_role("cell", name="bruno@example.com")).to_be_visible()
    organizer.get_by_role("button", name="Turn the waitlist off").click()
    expect(organizer.get_by_test_id("waitlist-state")).to_have_text("Off")
    closed = api.http.post(f"/api/events/{event_id}/waitlist", json={"email": "late@example.com"})
    assert closed.status_code == 409 and closed.json()["error"] == "waitlist_closed"


def test_an_anonymous_visitor_on_the_queue_page_is_called_there_and_buys_after_signing_up(
    api: Api, new_page: Any
) -> None:
    """No account: the visitor whose turn never came leaves an address on the waiting room's
    sold-out page and is called on that page by its queue socket (not by polling)."""
    event = api.create_event(name="Waitlist room", capacity=1, waiting_room={"enabled": True})
    event_id = event["id"]
    controls = f"/api/events/{event_id}/waiting-room"
    assert api.http.patch(controls, json={"paused": True}, headers=api.admin()).status_code == 200
    first = api.sign_up("Primeira Pessoa")
    first_auth = {"Authorization": f"Bearer {first['token']}"}
    assert api.http.post(f"/api/events/{event_id}/queue", headers=first_auth).status_code == 200

    page = new_page()
    page.goto(f"/events/{event_id}/queue")  # anonymous: a visitor token, no session
    expect(page.get_by_test_id("position")).to_have_text("2")
    assert page.evaluate("() => localStorage.getItem('crowdpass.session')") is None

    # The one ticket is sold to the first in line: the visitor's page says sold out.
    assert api.http.patch(controls, json={"paused": False}, headers=api.admin()).status_code == 200
    deadline = time.monotonic() + 10
    while (place := api.http.get(f"/api/events/{event_id}/queue/me", headers=first_auth).json())[
        "status"
    ] != "admitted":
        assert time.monotonic() < deadline, place
        time.sleep(0.2)
    held = api.http.post(
        f"/api/events/{event_id}/holds",
        json={"quantity": 1},
        headers={**first_auth, "Admission-Token": place["admission_token"]},
    )
    assert held.status_code == 201, held.text
    paid = api.http.post(
        f"/api/holds/{held.json()['id']}/confirm",
        json={"payment_method": "pm_card_visa"},
        headers={**first_auth, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert paid.status_code == 200, paid.text
    expect(page.get_by_role("heading", name="Sold out")).to_be_visible(timeout=10_000)

    # The visitor leaves an address on that page.
    address = f"{uuid.uuid4().hex[:10]}@example.com"
    page.get_by_label("Email for the waitlist").fill(address)
    page.get_by_role("button", name="Join the waitlist").click()
    expect(page.get_by_test_id("waitlist-position")).to_have_text("You are next in line")
    [entry] = api.http.get(f"/api/events/{event_id}/waitlist", headers=api.admin()).json()["entries"]
    assert (entry["email"], entry["customer_id"], entry["status"]) == (address, None, "waiting")

    # The ticket comes back (a refund): the visitor is called on the page they have open.
    reads: list[str] = []
    page.on("request", lambda r: reads.append(r.url) if "/waitlist/me" in r.url else None)
    refunded = api.http.post(f"/api/tickets/{paid.json()['purchases'][0]['id']}/refund", headers=api.admin())
    assert refunded.status_code == 200, refunded.text
    expect(page.get_by_text("A ticket came back for you")).to_be_visible(timeout=8_000)
    assert reads == []  # the queue socket brought it; the page did not ask
    expect(page.get_by_test_id("offer-countdown")).to_have_text(re.compile(r"^(10:00|9:[0-5]\d)$"))
    assert mail_to(api, address, "waitlist_offer")["kind"] == "waitlist_offer"  # and by email

    # "Buy it now" leads to the offer; the visitor signs up there and buys the kept ticket.
    page.get_by_role("button", name="Buy it now").click()
    expect(page).to_have_url(re.compile(rf"/events/{event_id}\?offer="))
    expect(page.get_by_role("heading", name="Your turn from the waitlist")).to_be_visible()
    page.get_by_role("button", name="Buy 1 ticket").click()
    page.get_by_label("Your name").fill("Visitante Paciente")
    page.get_by_label("Email", exact=True).fill(address)
    page.get_by_label("Password").fill("correct-horse")
    page.get_by_role("button", name="Create account and continue").click()
    expect(page).to_have_url(re.compile(r"/checkout/"))
    pay(page)
    expect(page.get_by_role("heading", name="You are going!")).to_be_visible()
    live = api.event(event_id)
    assert (live["sold"], live["held"], live["available"]) == (1, 0, 0)
    [ended] = api.http.get(f"/api/events/{event_id}/waitlist", headers=api.admin()).json()["entries"]
    assert (ended["email"], ended["status"]) == (address, "used")
