"""Ticket types in the web app (docs/ticket-types.md), in Debian's Chromium against the
whole running system: an event with "Pista" and "VIP", the buyer picks VIP, pays, and the
ticket bought is a VIP one."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import ADMIN_TOKEN, Api
from tests.e2e.test_browser import expect, pay, sign_up

pytestmark = pytest.mark.e2e


def test_the_buyer_picks_vip_pays_and_the_ticket_is_vip(api: Api, new_page: Any, screenshots: Any) -> None:
    event = api.create_event(
        name="Festival de Verao",
        max_per_customer=4,
        sections=[
            {"name": "Pista", "price_cents": 10000, "capacity": 50},
            {"name": "VIP", "price_cents": 30000, "capacity": 10, "max_per_customer": 2},
        ],
    )
    page = new_page()
    page.goto(f"/events/{event['id']}")
    expect(page.get_by_role("heading", name="Festival de Verao")).to_be_visible()
    picker = page.get_by_test_id("ticket-types")
    expect(picker).to_contain_text("Pista")
    expect(picker).to_contain_text("10 left")
    expect(page.get_by_label(re.compile(r"^Pista"))).to_be_checked()
    page.get_by_label(re.compile(r"^VIP")).check()
    page.get_by_label("Tickets", exact=True).select_option("2")
    expect(page.locator(".total")).to_contain_text("600.00")
    page.screenshot(path=str(screenshots / "ticket-types-event.png"), full_page=True)
    page.get_by_role("button", name="Buy 2 tickets").click()
    sign_up(page, "Rita Alves")

    expect(page).to_have_url(re.compile(r"/checkout/"))
    pay(page)
    expect(page.get_by_role("heading", name="You are going!")).to_be_visible()

    live = api.event(event["id"])
    types = {t["name"]: (t["sold"], t["held"], t["available"]) for t in live["ticket_types"]}
    assert types == {"Pista": (0, 0, 50), "VIP": (2, 0, 8)}
    # Another visit shows what is left of VIP.
    page.goto(f"/events/{event['id']}")
    expect(page.get_by_test_id("ticket-types")).to_contain_text("8 left")


def test_the_organizer_defines_pista_and_vip_in_the_event_form(
    api: Api, new_page: Any, screenshots: Any
) -> None:
    page = new_page()
    page.goto("/organizer")
    page.get_by_label("Organizer token", exact=True).fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="New event")).to_be_visible()
    page.get_by_label("Name", exact=True).first.fill("Festival do Organizador")
    page.get_by_label("Starts at", exact=True).fill("2031-07-01T20:00")
    page.get_by_label("Tickets per person", exact=True).fill("4")
    page.get_by_label(re.compile(r"Ticket types \(e\.g\.")).check()
    editor = page.get_by_test_id("ticket-types-editor")
    first, second = editor.locator("fieldset").nth(0), editor.locator("fieldset").nth(1)
    expect(first.get_by_label("Name", exact=True)).to_have_value("Pista")
    first.get_by_label("Price", exact=True).fill("100")
    first.get_by_label("Tickets", exact=True).fill("40")
    expect(second.get_by_label("Name", exact=True)).to_have_value("VIP")
    second.get_by_label("Price", exact=True).fill("300")
    second.get_by_label("Tickets", exact=True).fill("8")
    second.get_by_label("Per person (optional)", exact=True).fill("2")
    page.screenshot(path=str(screenshots / "ticket-types-organizer.png"), full_page=True)
    page.get_by_role("button", name="Create event").click()
    created = page.get_by_role("status").filter(has_text="Event created")
    expect(created).to_be_visible()
    href = created.get_by_role("link", name="Festival do Organizador").get_attribute("href")
    assert href is not None
    event = api.event(href.rsplit("/", 1)[-1])
    assert [
        (t["name"], t["price_cents"], t["capacity"], t["max_per_customer"]) for t in event["ticket_types"]
    ] == [
        ("Pista", 10000, 40, None),
        ("VIP", 30000, 8, 2),
    ]
    page.goto(href)
    expect(page.get_by_test_id("ticket-types")).to_contain_text("up to 2 per person")
