"""A whole waiting-room sale as visitors live it, in Debian's Chromium (issue 16).

Five anonymous visitors (each a browser context: their own storage) and a second tab for
the first of them queue without an account, reload, wait through a pause, are admitted one
a second, sign up at their turn, buy; one lets the hold expire, whose ticket goes to the
next in line, and who comes back at the front of the line within the grace window (once:
the offer is gone after); one leaves an email address and gets "your turn" by email; the
last ticket sells and everyone still waiting hears "sold out". Asserted:
admissions strictly in arrival order, each visitor admitted exactly once, every tab of an
admitted visitor out of the line, the organizer's "waiting" counting real visitors only,
and the page of an unknown event making at most 3 requests.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import Api
from tests.e2e.test_browser import expect, pay, shoot_both, sign_up

pytestmark = pytest.mark.e2e

HOLD_TTL_S = 12
VISITOR_TOKEN_JS = "() => JSON.parse(localStorage.getItem('crowdpass.visitor'))"


class Visitor:
    def __init__(self, name: str, pages: list[Any]) -> None:
        self.name = name
        self.pages = pages
        self.admitted_at: float | None = None
        self.times_admitted = 0

    @property
    def page(self) -> Any:
        return self.pages[0]


def turn_seen(page: Any) -> bool:
    """Whether this tab shows the visitor's turn (or what came of it)."""
    state: bool = page.evaluate(
        """() => document.title.includes('Your turn')
               || location.pathname.startsWith('/checkout/')
               || document.querySelector('[data-testid=elsewhere]') !== null"""
    )
    return state


def test_a_sale_through_the_waiting_room_in_the_browser(api: Api, new_page: Any, screenshots: Any) -> None:
    started = time.monotonic()
    event = api.create_event(
        name="Flash sale",
        capacity=3,
        hold_ttl_s=HOLD_TTL_S,
        waiting_room={"enabled": True, "max_admit_per_s": 1},
    )
    event_id = event["id"]
    controls = f"/api/events/{event_id}/waiting-room"
    assert api.http.patch(controls, json={"paused": True}, headers=api.admin()).status_code == 200

    # Anonymous joins, one after the other: positions 1..5 in arrival order.
    visitors: list[Visitor] = []
    for i, name in enumerate(["Ana", "Bruno", "Carla", "Davi", "Elis"]):
        page = new_page(390, 844)
        page.goto(f"/events/{event_id}/queue")
        expect(page.get_by_test_id("position")).to_have_text(str(i + 1))
        expect(page.get_by_text("The line is paused")).to_be_visible()
        visitors.append(Visitor(name, [page]))
    ana, bruno, carla, davi, elis = visitors

    # A second tab of the first visitor, and a reload: the same places, nobody new in line.
    second_tab = ana.page.context.new_page()
    second_tab.goto(f"/events/{event_id}/queue")
    expect(second_tab.get_by_test_id("position")).to_have_text("1")
    ana.pages.append(second_tab)
    carla.page.reload()
    expect(carla.page.get_by_test_id("position")).to_have_text("3")
    # Carla leaves an address for "your turn" (optional); the mail worker sends it at her turn.
    carla_email = f"carla-{uuid.uuid4().hex[:8]}@example.com"
    carla.page.get_by_label("Email me when it is my turn (optional)").fill(carla_email)
    carla.page.get_by_role("button", name="Email me").click()
    expect(carla.page.get_by_test_id("turn-email-saved")).to_contain_text(carla_email)
    shoot_both(carla.page, screenshots, "waiting-room-paused")
    assert api.http.get(controls, headers=api.admin()).json()["waiting"] == 5

    def observe() -> None:
        for v in visitors:
            if v.admitted_at is None and any(turn_seen(p) for p in v.pages):
                v.admitted_at = time.monotonic()
                v.times_admitted += 1

    def wait_until(what: str, done: Callable[[], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            observe()
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.1)
        observe()

    def buy(v: Visitor, *, pays: bool) -> Any:
        """Sign up at the turn in the tab that took it; the page holds and opens the checkout."""
        wait_until(f"{v.name}'s turn", lambda: v.admitted_at is not None)
        wait_until(
            f"{v.name}'s sign-up form",
            lambda: any(p.get_by_label("Your name", exact=True).count() > 0 for p in v.pages),
        )
        page = next(p for p in v.pages if p.get_by_label("Your name", exact=True).count() > 0)
        if v is ana:
            shoot_both(page, screenshots, "waiting-room-your-turn")
        sign_up(page, f"{v.name} Teste")
        expect(page).to_have_url(re.compile(r"/checkout/"), timeout=15_000)
        if pays:
            pay(page)
            expect(page.get_by_role("heading", name="You are going!")).to_be_visible(timeout=15_000)
        return page

    assert api.http.patch(controls, json={"paused": False}, headers=api.admin()).status_code == 200

    ana_page = buy(ana, pays=True)
    # Ana's other tab left the line too: it says where the tickets went, with no place shown.
    other = next(p for p in ana.pages if p is not ana_page)
    expect(other.get_by_test_id("elsewhere")).to_be_visible()
    shoot_both(other, screenshots, "waiting-room-other-tab")
    assert other.get_by_test_id("position").count() == 0

    bruno_page = buy(bruno, pays=False)  # ... and lets the hold expire
    buy(carla, pays=True)
    # Every ticket is sold or held: the next in line is not told "You are next".
    wait_until("the blocked room", lambda: davi.page.get_by_test_id("position").inner_text() == "1")
    assert davi.admitted_at is None
    expect(davi.page.get_by_test_id("wait")).to_have_text(re.compile("held by other buyers"))
    assert davi.page.get_by_text("You are next.").count() == 0
    shoot_both(davi.page, screenshots, "waiting-room-held")

    expired = bruno_page.get_by_role("heading", name="Time is up")
    expect(expired).to_be_visible(timeout=(HOLD_TTL_S + 8) * 1000)
    # The expired ticket goes to the next in line; Bruno is offered the front of the line, once.
    wait_until("Davi's turn", lambda: davi.admitted_at is not None)
    grace = bruno_page.get_by_test_id("grace")
    expect(grace).to_be_visible(timeout=10_000)
    shoot_both(bruno_page, screenshots, "checkout-expired-grace")
    grace.get_by_role("button", name="Back to the front of the line").click()
    expect(bruno_page).to_have_url(re.compile(r"/queue$"))
    expect(bruno_page.get_by_test_id("position")).to_have_text("1")
    expect(elis.page.get_by_test_id("position")).to_have_text("2", timeout=20_000)
    shoot_both(bruno_page, screenshots, "waiting-room-back-at-front")
    bruno_queue = bruno_page.context.request.post(
        f"/api/events/{event_id}/queue/return",
        headers={"Authorization": f"Bearer {bruno_page.evaluate(VISITOR_TOKEN_JS)}"},
    )
    assert bruno_queue.status == 409 and bruno_queue.json()["error"] == "grace_used"
    buy(davi, pays=True)

    # Sold out: everyone still waiting hears it; nobody admitted is back in line by accident.
    expect(elis.page.get_by_role("heading", name="Sold out")).to_be_visible(timeout=10_000)
    expect(bruno_page.get_by_role("heading", name="Sold out")).to_be_visible(timeout=10_000)
    observe()
    live = api.event(event_id)
    assert (live["sold"], live["held"], live["available"]) == (3, 0, 0)
    stats = api.http.get(controls, headers=api.admin()).json()
    assert stats["waiting"] == 2, stats  # Elis and Bruno (back by his own click), no phantom re-joins
    assert stats["admitted_total"] == 4, stats  # Ana, Bruno, Carla, Davi: once each
    assert stats["admitted_outstanding"] == 0, stats

    admitted = [v for v in visitors if v.admitted_at is not None]
    assert [v.name for v in sorted(admitted, key=lambda v: v.admitted_at or 0)] == [
        "Ana",
        "Bruno",
        "Carla",
        "Davi",
    ]
    assert all(v.times_admitted == 1 for v in admitted)
    assert elis.admitted_at is None
    for v in admitted:
        for page in v.pages:
            assert page.get_by_test_id("position").count() == 0, (v.name, page.url)
    mail = api.http.get("/api/dev/mail", params={"to": carla_email}, headers=api.admin()).json()
    assert [m["kind"] for m in mail] == ["your_turn"], mail
    assert f"/events/{event_id}/queue" in mail[0]["text"]
    assert time.monotonic() - started < 120


def test_the_page_of_an_unknown_event_makes_at_most_3_requests(api: Api, new_page: Any) -> None:
    page = new_page()
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/api/" in r.url else None)
    page.on("websocket", lambda ws: requests.append(ws.url))
    for path in (f"/events/{uuid.uuid4()}", f"/events/{uuid.uuid4()}/queue"):
        requests.clear()
        page.goto(path)
        expect(page.get_by_text("This event does not exist")).to_be_visible()
        page.wait_for_timeout(4000)
        assert len(requests) <= 3, (path, requests)
