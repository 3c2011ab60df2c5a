"""The web app in Debian's Chromium against the whole running system (tests/e2e/conftest.py).

Every flow goes through the real API, workers and payments stub; the data is arranged
through the public API where the flow under test does not need the browser.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import Api

pytestmark = pytest.mark.e2e

GOOD_CARD = "4242424242424242"


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(target)


def sign_up(page: Any, name: str) -> None:
    """Fill the inline sign-up form the page shows."""
    page.get_by_label("Your name", exact=True).fill(name)
    page.get_by_label("Email", exact=True).fill(f"{uuid.uuid4().hex[:10]}@example.com")
    page.get_by_label("Password", exact=True).fill("correct-horse")
    page.get_by_role("button", name="Create account and continue").click()


def log_in(page: Any, session: dict[str, Any]) -> None:
    """Put a customer session in the page's storage, as a login does, and reload."""
    page.evaluate(
        "s => localStorage.setItem('crowdpass.session', JSON.stringify(s))",
        {"token": session["token"], "customer": session["customer"]},
    )
    page.reload()


def shoot_both(page: Any, folder: Any, name: str) -> None:
    """Screenshot the page as it is at a phone's and at a desktop's width."""
    size = page.viewport_size
    for width, height in ((390, 844), (1280, 900)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(200)
        page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size(size)


def pay(page: Any, card: str = GOOD_CARD) -> None:
    page.get_by_label("Card number", exact=True).fill(card)
    page.get_by_role("button", name=re.compile(r"^Pay")).click()


def test_buy_a_ticket(api: Api, new_page: Any, screenshots: Any) -> None:
    event = api.create_event(name="Buy test", capacity=5, max_per_customer=2)
    page = new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(f"/events/{event['id']}")
    expect(page.get_by_role("heading", name="Buy test")).to_be_visible()
    expect(page.get_by_test_id("available")).to_have_text("5")
    page.get_by_label("Tickets", exact=True).select_option("2")
    page.get_by_role("button", name="Buy 2 tickets").click()
    sign_up(page, "Beatriz Lima")

    expect(page).to_have_url(re.compile(r"/checkout/"))
    expect(page.get_by_test_id("countdown")).to_have_text(re.compile(r"^[45]:\d\d$"))
    shoot_both(page, screenshots, "checkout")
    sent: list[tuple[str, str]] = []  # (url, body) of every request the page makes from here
    page.on("request", lambda r: sent.append((r.url, r.post_data or "")))
    pay(page)
    expect(page.get_by_role("heading", name="You are going!")).to_be_visible()
    # The card went to the payment provider (the stub, another origin, through CORS) and
    # nowhere else: CrowdPass got its payment method.
    to_provider = [(u, b) for u, b in sent if u.endswith("/v1/payment_methods")]
    assert len(to_provider) == 1 and GOOD_CARD in to_provider[0][1], sent
    assert not to_provider[0][0].startswith(api.base)
    assert not [u for u, b in sent if GOOD_CARD in u + b and u != to_provider[0][0]], sent
    confirm = next(b for u, b in sent if u.endswith("/confirm"))
    assert '"payment_method":"pm_' in confirm.replace(" ", "")
    # The checkout's own socket opened with a one-use ticket; no token is ever in a socket's URL.
    assert any("/api/ws?ticket=" in u for u in sockets), sockets
    assert not any("token=" in u or "eyJ" in u for u in sockets), sockets
    shoot_both(page, screenshots, "checkout-paid")

    page.get_by_role("link", name="See my tickets").click()
    expect(page.get_by_role("heading", name="My tickets")).to_be_visible()
    tickets = page.locator(".card", has_text="Buy test")
    expect(tickets.get_by_text("Confirmed")).to_have_count(2)
    live = api.event(event["id"])
    assert (live["sold"], live["held"], live["available"]) == (2, 0, 3)


def test_a_purchase_updates_counters_and_feed_in_another_browser_within_2s(api: Api, new_page: Any) -> None:
    event = api.create_event(name="Live counters", capacity=20)
    url = f"/events/{event['id']}"

    watcher = new_page()
    watcher.goto(url)
    expect(watcher.get_by_test_id("sold")).to_have_text("0")
    expect(watcher.locator(".live-open")).to_be_visible()
    feed = watcher.context.new_page()
    feed.goto("/feed")
    expect(feed.locator(".live-open")).to_be_visible()

    buyer = new_page()
    buyer.goto("/")
    log_in(buyer, api.sign_up("Rafael Mendes"))
    buyer.goto(url)
    buyer.get_by_role("button", name="Buy 1 ticket").click()
    expect(buyer).to_have_url(re.compile(r"/checkout/"))
    pay(buyer)
    expect(buyer.get_by_role("heading", name="You are going!")).to_be_visible()
    paid_at = time.monotonic()

    # Neither page of the other browser reloads: the counters and the feed arrive live.
    expect(watcher.get_by_test_id("sold")).to_have_text("1", timeout=2000)
    expect(watcher.get_by_test_id("available")).to_have_text("19", timeout=500)
    left_ms = max(100, 2000 - (time.monotonic() - paid_at) * 1000)
    expect(feed.get_by_test_id("feed")).to_contain_text("Rafael M.", timeout=left_ms)
    left_ms = max(100, 2000 - (time.monotonic() - paid_at) * 1000)
    expect(watcher.get_by_role("region", name="Just bought")).to_contain_text("Rafael M.", timeout=left_ms)
    assert time.monotonic() - paid_at < 2.0


def test_sold_out_shows_its_message(api: Api, new_page: Any) -> None:
    event = api.create_event(name="Last ticket", capacity=1)
    page = new_page()
    page.goto(f"/events/{event['id']}")
    expect(page.get_by_test_id("available")).to_have_text("1")

    api.buy(api.sign_up("Outra Pessoa"), event["id"])  # someone else takes the last ticket

    expect(page.get_by_role("heading", name="Sold out")).to_be_visible(timeout=3000)
    expect(page.get_by_text("Every ticket is taken")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Buy"))).to_have_count(0)

    # A latecomer sees it on the list too, with a way forward.
    late = new_page(390, 844)
    late.goto("/")
    card = late.locator(".event-card", has_text="Last ticket")
    expect(card.locator(".badge")).to_have_text("Sold out")
    card.get_by_role("link", name="Last ticket").click()
    expect(late.get_by_role("link", name="See other events")).to_be_visible()


def test_waiting_room_keeps_the_place_and_advances_to_checkout(api: Api, new_page: Any) -> None:
    event = api.create_event(name="Big sale", capacity=5, waiting_room={"enabled": True})
    controls = f"/api/events/{event['id']}/waiting-room"
    r = api.http.patch(controls, json={"paused": True}, headers=api.admin())
    assert r.status_code == 200, r.text

    page = new_page(390, 844)
    page.goto("/")
    log_in(page, api.sign_up("Juliana Rocha"))
    page.goto(f"/events/{event['id']}")
    page.get_by_role("button", name="Get in line").click()
    expect(page).to_have_url(re.compile(r"/events/.+/queue$"))
    expect(page.get_by_test_id("position")).to_have_text("1")
    expect(page.get_by_text("The line is paused")).to_be_visible()

    page.reload()  # the place survives a reload
    expect(page.get_by_test_id("position")).to_have_text("1")

    r = api.http.patch(controls, json={"paused": False}, headers=api.admin())
    assert r.status_code == 200, r.text
    # Admitted: the page holds the ticket and opens the checkout by itself.
    expect(page).to_have_url(re.compile(r"/checkout/"), timeout=10_000)
    pay(page)
    expect(page.get_by_role("heading", name="You are going!")).to_be_visible()
    assert api.event(event["id"])["sold"] == 1


def test_the_waiting_room_says_sold_out_when_the_last_ticket_goes(
    api: Api, new_page: Any, screenshots: Any
) -> None:
    event = api.create_event(name="Tiny room", capacity=1, waiting_room={"enabled": True})
    controls = f"/api/events/{event['id']}/waiting-room"
    assert api.http.patch(controls, json={"paused": True}, headers=api.admin()).status_code == 200
    first = {"Authorization": f"Bearer {api.sign_up('Primeira Pessoa')['token']}"}
    r = api.http.post(f"/api/events/{event['id']}/queue", headers=first)
    assert r.status_code == 200, r.text

    page = new_page(390, 844)
    page.goto("/")
    log_in(page, api.sign_up("Segunda Pessoa"))
    page.goto(f"/events/{event['id']}/queue")
    expect(page.get_by_test_id("position")).to_have_text("2")

    assert api.http.patch(controls, json={"paused": False}, headers=api.admin()).status_code == 200
    deadline = time.monotonic() + 10
    while (place := api.http.get(f"/api/events/{event['id']}/queue/me", headers=first).json())[
        "status"
    ] != "admitted":
        assert time.monotonic() < deadline, place
        time.sleep(0.2)
    r = api.http.post(
        f"/api/events/{event['id']}/holds",
        json={"quantity": 1},
        headers={**first, "Admission-Token": place["admission_token"]},
    )
    assert r.status_code == 201, r.text
    r = api.http.post(
        f"/api/holds/{r.json()['id']}/confirm",
        json={"payment_method": "pm_card_visa"},
        headers={**first, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 200, r.text

    expect(page.get_by_role("heading", name="Sold out")).to_be_visible(timeout=10_000)
    expect(page.get_by_text("You have not been charged")).to_be_visible()
    shoot_both(page, screenshots, "waiting-room-sold-out")


def test_an_expired_hold_shows_the_expiry_and_the_tickets_return(
    api: Api, new_page: Any, screenshots: Any
) -> None:
    event = api.create_event(name="Five seconds", capacity=2, hold_ttl_s=5)
    page = new_page()
    page.goto("/")
    log_in(page, api.sign_up("Lucas Prado"))
    page.goto(f"/events/{event['id']}")
    page.get_by_role("button", name="Buy 1 ticket").click()
    expect(page).to_have_url(re.compile(r"/checkout/"))
    expect(page.get_by_test_id("countdown")).to_have_text(re.compile(r"^0:0[1-5]$"))
    assert api.event(event["id"])["held"] == 1
    # The last minute: a warning, in the tab's title too, and the one extension on offer.
    expect(page.get_by_text("Less than a minute left")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"^Extend by"))).to_be_visible()
    assert "left to pay" in page.title()
    shoot_both(page, screenshots, "checkout-last-minute")

    expect(page.get_by_role("heading", name="Time is up")).to_be_visible(timeout=9000)
    expect(page.get_by_text("the tickets went back on sale")).to_be_visible()
    shoot_both(page, screenshots, "checkout-expired")

    deadline = time.monotonic() + 6
    while (live := api.event(event["id"]))["available"] != 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (live["sold"], live["held"], live["available"]) == (0, 0, 2)

    page.get_by_role("link", name="Try again").click()
    expect(page.get_by_test_id("available")).to_have_text("2")


def test_screenshots_of_every_page(api: Api, new_page: Any, screenshots: Any) -> None:
    """Every page at a phone's and a desktop's width, saved for people to look at."""
    ga = api.create_event(
        name="Festival de Inverno",
        venue="Parque da Cidade",
        capacity=300,
        max_per_customer=4,
        half_price=True,
    )
    seated = api.create_event(
        name="Orquestra Sinfônica",
        venue="Theatro Municipal",
        sections=[
            {"name": "Plateia", "price_cents": 12000, "rows": 6, "seats_per_row": 12},
            {"name": "Balcão", "price_cents": 6000, "rows": 3, "seats_per_row": 10},
        ],
        max_per_customer=4,
    )
    sold_out = api.create_event(name="Show Esgotado", capacity=1)
    api.buy(api.sign_up("Carla Nunes"), sold_out["id"])
    room = api.create_event(name="Mega Turnê", capacity=50, waiting_room={"enabled": True})
    lottery = api.create_event(
        name="Pré-venda Sorteada",
        capacity=50,
        sales_open_at="2031-01-01T12:00:00Z",
        waiting_room={"enabled": True, "prequeue": "lottery"},
    )
    for event in (room, lottery):
        r = api.http.patch(
            f"/api/events/{event['id']}/waiting-room", json={"paused": True}, headers=api.admin()
        )
        assert r.status_code == 200, r.text
    me = api.sign_up("Fernanda Alves")
    api.buy(me, ga["id"], quantity=2)
    auth = {"Authorization": f"Bearer {me['token']}"}
    seats = api.http.get(f"/api/events/{seated['id']}/seats").json()
    api.buy(api.sign_up("Paulo Reis"), seated["id"], quantity=3)

    for width, height in ((390, 844), (1280, 900)):
        page = new_page(width, height)
        page.goto("/")
        page.evaluate(
            "([s, a]) => { localStorage.setItem('crowdpass.session', JSON.stringify(s));"
            " localStorage.setItem('crowdpass.admin', JSON.stringify(a)); }",
            [{"token": me["token"], "customer": me["customer"]}, api.admin()["Authorization"][7:]],
        )
        page.reload()

        def shoot(name: str, ready: Any, page: Any = page, width: int = width) -> None:
            expect(ready).to_be_visible()
            page.wait_for_timeout(300)  # let the live indicator and fonts settle
            page.screenshot(path=str(screenshots / f"{name}-{width}.png"), full_page=True)

        page.goto("/")
        shoot("events", page.locator(".event-card").first)
        page.goto(f"/events/{ga['id']}")
        shoot("event", page.locator(".live-open"))
        page.goto(f"/events/{seated['id']}")
        page.locator(".seat-rows .seat-free").first.click()
        shoot("event-seated", page.get_by_role("button", name="Hold 1 seat"))
        page.goto(f"/events/{sold_out['id']}")
        shoot("event-sold-out", page.get_by_role("heading", name="Sold out"))
        page.goto(f"/events/{room['id']}/queue")
        shoot("waiting-room", page.get_by_test_id("position"))
        page.goto(f"/events/{lottery['id']}/queue")
        shoot("waiting-room-lottery", page.get_by_test_id("commitment"))

        free = [s["id"] for s in seats if s["status"] == "available"][-2:]
        r = api.http.post(f"/api/events/{seated['id']}/holds", json={"seat_ids": free}, headers=auth)
        if r.status_code == 201:
            page.goto(f"/checkout/{r.json()['id']}")
            page.get_by_label("Card number", exact=True).fill("4000000000000002")
            page.get_by_role("button", name=re.compile(r"^Pay")).click()
            shoot("checkout-declined", page.get_by_text("Card declined"))
            api.http.delete(f"/api/holds/{r.json()['id']}", headers=auth)
        page.goto("/feed")
        shoot("feed", page.get_by_test_id("feed"))
        page.goto("/tickets")
        shoot("my-tickets", page.get_by_text("Festival de Inverno").first)  # the card and its e-ticket
        page.goto("/organizer")
        shoot("organizer", page.get_by_role("heading", name="New event"))
        page.goto(f"/organizer/events/{room['id']}")
        shoot("organizer-waiting-room", page.get_by_role("heading", name="Controls"))
        page.goto(f"/organizer/events/{ga['id']}/manage")
        shoot("organizer-manage", page.get_by_role("heading", name=re.compile("^Sales report")))
        page.goto("/jobs")
        shoot("jobs", page.get_by_role("heading", name="Queues"))
        page.goto("/nowhere")
        shoot("not-found", page.get_by_role("heading", name="Page not found"))

        anonymous = new_page(width, height)
        anonymous.goto("/tickets")
        shoot("sign-in", anonymous.get_by_role("button", name="Log in and continue"), page=anonymous)


def test_the_event_page_reconnects_and_catches_up_after_the_socket_drops(api: Api, new_page: Any) -> None:
    event = api.create_event(name="Flaky network", capacity=10)
    page = new_page(390, 844)
    network = {"up": True}
    sockets: list[Any] = []

    def route(ws: Any) -> None:
        if not network["up"]:
            ws.close(code=1006)  # the network is down: every attempt fails at once
            return
        ws.connect_to_server()  # otherwise pass messages through unchanged
        sockets.append(ws)

    page.route_web_socket(re.compile(r"/api/events/[^/]+/live$"), route)
    page.goto(f"/events/{event['id']}")
    expect(page.locator(".live-open")).to_be_visible()
    expect(page.get_by_test_id("sold")).to_have_text("0")

    network["up"] = False
    sockets[-1].close(code=1006)
    expect(page.get_by_text("Reconnecting…")).to_be_visible()
    api.buy(api.sign_up("Gabriel Souza"), event["id"], quantity=1)  # happens while the page is deaf
    page.wait_for_timeout(1500)
    expect(page.get_by_test_id("sold")).to_have_text("0")  # it could not have heard it

    network["up"] = True
    # Back online: the page reconnects by itself and catches up, without a reload.
    expect(page.locator(".live-open")).to_be_visible(timeout=15_000)
    expect(page.get_by_test_id("sold")).to_have_text("1")
    expect(page.get_by_test_id("available")).to_have_text("9")


def test_links_people_share_open_the_page_they_name(api: Api, new_page: Any) -> None:
    """An event's address carries its own tags (served, before any JavaScript); a deep link
    to the waiting room survives a reload; an old fragment link lands on its real path."""
    event = api.create_event(name="Samba & Choro <ao vivo>", capacity=5, waiting_room={"enabled": True})
    controls = f"/api/events/{event['id']}/waiting-room"
    assert api.http.patch(controls, json={"paused": True}, headers=api.admin()).status_code == 200
    page = new_page(390, 844)

    served = page.request.get(f"/events/{event['id']}")
    assert served.status == 200
    assert '<meta property="og:title" content="Samba &amp; Choro &lt;ao vivo&gt;" />' in served.text()
    page.goto(f"/events/{event['id']}")
    og_title = page.locator('meta[property="og:title"]')
    assert og_title.get_attribute("content") == "Samba & Choro <ao vivo>"
    expect(page.get_by_role("heading", name="Samba & Choro <ao vivo>")).to_be_visible()
    assert page.request.get(f"/events/{uuid.uuid4()}").status == 404

    page.goto(f"/events/{event['id']}/queue")  # a deep link, straight to the line
    expect(page.get_by_test_id("position")).to_have_text("1")
    page.reload()
    expect(page).to_have_url(re.compile(rf"/events/{event['id']}/queue$"))
    expect(page.get_by_test_id("position")).to_have_text("1")

    page.goto(f"/#/events/{event['id']}")  # a link from before real paths
    expect(page).to_have_url(re.compile(rf"/events/{event['id']}$"))
    expect(page.get_by_role("heading", name="Samba & Choro <ao vivo>")).to_be_visible()


def test_a_wide_row_of_seats_scrolls_sideways_on_a_phone_and_says_so(api: Api, new_page: Any) -> None:
    event = api.create_event(
        name="Teatro Municipal",
        sections=[{"name": "Plateia", "price_cents": 9000, "rows": 2, "seats_per_row": 16}],
    )
    page = new_page(390, 844)
    page.goto(f"/events/{event['id']}")
    expect(page.get_by_test_id("seat-scroll-hint")).to_be_visible()
    # The page itself never gets wider than the phone: the rows scroll in their own box.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    last = page.get_by_role("button", name=re.compile(r"^Plateia, row A, seat 16,"))
    last.scroll_into_view_if_needed()
    expect(last).to_be_in_viewport()
    last.click()
    expect(last).to_have_attribute("aria-pressed", "true")


def test_buy_now_in_one_step_through_the_orders_pipeline(api: Api, new_page: Any) -> None:
    event = api.create_event(name="Forró na Praça", capacity=10, max_per_customer=4)
    page = new_page(390, 844)
    page.goto("/")
    log_in(page, api.sign_up("Rita Lima"))
    page.goto(f"/events/{event['id']}")
    page.get_by_label("Tickets", exact=True).select_option("2")
    page.get_by_text("Buy now in one step").click()
    page.get_by_label("Card number", exact=True).fill(GOOD_CARD)
    page.get_by_role("button", name="Buy 2 tickets now").click()
    expect(page.get_by_test_id("order-confirmed")).to_be_visible(timeout=10_000)
    expect(page.get_by_text("2 tickets bought")).to_be_visible()
    assert api.event(event["id"])["sold"] == 2
    # What the buyer owns now counts: 2 of 4, so at most 2 more.
    expect(page.get_by_text("you already own 2, so up to 2 more")).to_be_visible()


def test_the_seat_map_follows_holds_by_deltas(api: Api, new_page: Any) -> None:
    """Another customer holds a seat: the open page shows it taken from the live socket's
    `seats` delta, without reading the map again."""
    event = api.create_event(
        name="Seat deltas", sections=[{"name": "Plateia", "price_cents": 5000, "rows": 2, "seats_per_row": 5}]
    )
    page = new_page(1280, 900)
    reads: list[str] = []
    page.on("request", lambda r: reads.append(r.url) if "/seats" in r.url else None)
    page.goto(f"/events/{event['id']}")
    first = page.get_by_role("button", name=re.compile(r"row A, seat 1,"))
    expect(first).to_be_enabled()
    expect(page.locator(".live-open")).to_be_visible()
    seats = api.http.get(f"/api/events/{event['id']}/seats").json()
    seat = next(s for s in seats if s["row"] == "A" and s["number"] == 1)
    other = api.sign_up("Delta Buyer")
    r = api.http.post(
        f"/api/events/{event['id']}/holds",
        json={"seat_ids": [seat["id"]]},
        headers={"Authorization": f"Bearer {other['token']}"},
    )
    assert r.status_code == 201, r.text
    expect(first).to_be_disabled(timeout=10_000)
    assert [u for u in reads if "format=compact" in u] == reads
    assert len(reads) <= 2  # the first read, and one more at most if the first push laid the base
