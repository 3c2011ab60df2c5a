"""Codes in Chromium against the running system (docs/codes.md): the organizer creates a
discount code on the manage page; a buyer tries a wrong code (the reason shows), applies the
right one (the discount shows), buys at the discounted price; the organizer's list then
shows the use, the revenue and the discount given."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import ADMIN_TOKEN, Api

pytestmark = pytest.mark.e2e


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(target)


def test_a_discount_code_from_the_organizers_form_to_a_paid_ticket(api: Api, new_page: Any) -> None:
    event = api.create_event(name="Code night", capacity=5, price_cents=8000)

    organizer = new_page()
    organizer.goto("/")
    organizer.evaluate("t => localStorage.setItem('crowdpass.admin', JSON.stringify(t))", ADMIN_TOKEN)
    organizer.goto(f"/organizer/events/{event['id']}/manage")
    organizer.get_by_label("Code", exact=True).fill("friends-25")
    organizer.get_by_label("Discount (10% or 5.00)").fill("25%")
    organizer.get_by_label("Uses (empty: unlimited)").fill("10")
    organizer.get_by_role("button", name="Create code").click()
    expect(organizer.get_by_test_id("codes-message")).to_have_text("Code FRIENDS-25 created.")
    table = organizer.get_by_test_id("codes-table")
    expect(table).to_contain_text("FRIENDS-25")
    expect(table).to_contain_text("0 / 10")

    buyer = new_page()
    buyer.goto(f"/events/{event['id']}")
    code = buyer.get_by_label("Have a code?")
    code.fill("nope-nope")
    buyer.get_by_role("button", name="Apply").click()
    expect(buyer.get_by_role("alert")).to_contain_text("no such code")
    code.fill("friends-25")
    buyer.get_by_role("button", name="Apply").click()
    expect(buyer.get_by_test_id("code-applied")).to_contain_text("25% off each ticket")
    expect(buyer.locator("p.total")).to_contain_text(re.compile(r"60[.,]00"))

    buyer.get_by_role("button", name=re.compile(r"^Buy")).click()
    buyer.get_by_label("Your name", exact=True).fill("Cida Código")
    buyer.get_by_label("Email", exact=True).fill(f"{uuid.uuid4().hex[:10]}@example.com")
    buyer.get_by_label("Password", exact=True).fill("correct-horse")
    buyer.get_by_role("button", name="Create account and continue").click()
    expect(buyer.get_by_test_id("hold-code")).to_contain_text("FRIENDS-25")
    expect(buyer.get_by_test_id("hold-code")).to_contain_text(re.compile(r"20[.,]00"))
    buyer.get_by_label("Card number", exact=True).fill("4242424242424242")
    buyer.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(buyer.get_by_role("heading", name="You are going!")).to_be_visible()

    [listed] = api.http.get(f"/api/events/{event['id']}/codes", headers=api.admin()).json()
    assert (listed["uses"], listed["confirmed"], listed["in_flight"]) == (1, 1, 0)
    assert (listed["revenue_cents"], listed["discount_cents"]) == (6000, 2000)
    organizer.reload()
    expect(organizer.get_by_test_id("codes-table")).to_contain_text("1 / 10")
    expect(organizer.get_by_test_id("codes-table")).to_contain_text(re.compile(r"60[.,]00"))


def test_a_code_applied_at_the_checkout(api: Api, new_page: Any) -> None:
    event = api.create_event(name="Checkout code night", capacity=5, price_cents=8000)
    r = api.http.post(
        f"/api/events/{event['id']}/codes",
        json={"code": "LATE-10", "kind": "discount", "amount_off_cents": 1000},
        headers=api.admin(),
    )
    assert r.status_code == 201, r.text

    buyer = new_page()
    buyer.goto(f"/events/{event['id']}")
    buyer.get_by_role("button", name=re.compile(r"^Buy")).click()
    buyer.get_by_label("Your name", exact=True).fill("Tito Tarde")
    buyer.get_by_label("Email", exact=True).fill(f"{uuid.uuid4().hex[:10]}@example.com")
    buyer.get_by_label("Password", exact=True).fill("correct-horse")
    buyer.get_by_role("button", name="Create account and continue").click()
    expect(buyer.locator("p.total")).to_contain_text(re.compile(r"80[.,]00"))
    buyer.get_by_label("Have a discount code?").fill("late-10")
    buyer.get_by_role("button", name="Apply").click()
    expect(buyer.get_by_test_id("hold-code")).to_contain_text("LATE-10")
    expect(buyer.locator("p.total")).to_contain_text(re.compile(r"70[.,]00"))
    buyer.get_by_label("Card number", exact=True).fill("4242424242424242")
    buyer.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(buyer.get_by_role("heading", name="You are going!")).to_be_visible()
    [listed] = api.http.get(f"/api/events/{event['id']}/codes", headers=api.admin()).json()
    assert (listed["confirmed"], listed["revenue_cents"], listed["discount_cents"]) == (1, 7000, 1000)
