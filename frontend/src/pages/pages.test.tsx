import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { Hold, Seat } from "../api/types";
import { SeatMap } from "../components/SeatMap";
import { StatusBadge } from "../components/ui";
import { setSession } from "../lib/storage";
import { FakeWebSocket, fakeFetch } from "../test/fakes";
import { anEvent } from "../test/events";
import { renderPage } from "../test/render";
import { CheckoutPage } from "./CheckoutPage";
import { EventPage } from "./EventPage";
import { EventsPage } from "./EventsPage";
import { LotteryInfo, WaitingRoomPage } from "./WaitingRoomPage";

const EVENT = anEvent({
  half_price: true,
  live: { capacity: 100, sold: 10, held: 5, available: 85, status: "on_sale" },
});

const HOLD: Hold = {
  id: "h1",
  event_id: "e1",
  status: "active",
  expires_at: "2030-01-01T00:05:00Z",
  seconds_left: 120,
  tickets: [{ id: "t1", section: null, row: null, number: null, price_cents: 5000, half_price: false }],
  total_cents: 5000,
};

const PAYMENTS = "http://pay.test";

/** The provider's tokenisation: a new payment method per card, named by its last digits. */
function provider() {
  return {
    "GET /api/config": { body: { payments_url: PAYMENTS } },
    [`POST ${PAYMENTS}/v1/payment_methods`]: (call: { body: unknown }) => {
      const card = (call.body as { card_number: string }).card_number;
      return { status: 201, body: { id: `pm_${card.slice(-4)}`, brand: "visa", last4: card.slice(-4) } };
    },
  };
}

/** Every call to CrowdPass (not the provider) is free of the card number. */
function noCardSentToCrowdPass(calls: { url: string; body: unknown }[], card: string) {
  const ours = calls.filter((c) => !c.url.startsWith(PAYMENTS));
  expect(ours.length).toBeGreaterThan(0);
  for (const c of ours) expect(JSON.stringify(c.body ?? null) + c.url).not.toContain(card);
}

let ticketCount = 0;

/** `POST /api/ws-tickets`: a ticket named after the token it was asked with (`tk-<token>-<n>`). */
function tickets() {
  return {
    "POST /api/ws-tickets": (call: { headers: Record<string, string> }) => {
      const token = (call.headers.Authorization ?? "").replace(/^Bearer /, "");
      return { status: token ? 201 : 401, body: { ticket: `tk-${token}-${++ticketCount}`, expires_in_s: 30 } };
    },
  };
}

function signIn() {
  setSession({ token: "tok", customer: { id: "c1", name: "Ana Souza", email: "ana@example.com" } });
}

describe("StatusBadge", () => {
  it("says how many are left, and when few", () => {
    const { rerender } = render(<StatusBadge event={{ status: "on_sale", available: 85, capacity: 100 }} />);
    expect(screen.getByText("85 available")).toBeTruthy();
    rerender(<StatusBadge event={{ status: "on_sale", available: 3, capacity: 100 }} />);
    expect(screen.getByText("Only 3 left")).toBeTruthy();
    rerender(<StatusBadge event={{ status: "sold_out", available: 0, capacity: 100 }} />);
    expect(screen.getByText("Sold out")).toBeTruthy();
  });
});

describe("EventsPage", () => {
  it("lists events with badges and asks the API for a status filter", async () => {
    const { calls } = fakeFetch({
      ...tickets(),
      "GET /api/events": [
        { body: [EVENT, { ...EVENT, id: "e2", name: "Jazz", live: { ...EVENT.live, available: 0, status: "sold_out" } }] },
        { body: [{ ...EVENT, id: "e2", name: "Jazz", live: { ...EVENT.live, available: 0, status: "sold_out" } }] },
      ],
    });
    renderPage(<EventsPage />);
    expect(await screen.findByText("Show de Rock")).toBeTruthy();
    expect(screen.getAllByText("Sold out").some((el) => el.classList.contains("badge"))).toBe(true);
    fireEvent.change(screen.getByLabelText("Status"), { target: { value: "sold_out" } });
    await waitFor(() => expect(screen.queryByText("Show de Rock")).toBeNull());
    expect(calls.at(-1)!.url).toContain("status=sold_out");
  });

  it("offers a retry when the list cannot load", async () => {
    fakeFetch({ "GET /api/events": [{ status: 503, body: { error: "busy", detail: "x" } }, { body: [EVENT] }] });
    renderPage(<EventsPage />);
    expect(await screen.findByText("We could not load the events")).toBeTruthy();
    fireEvent.click(screen.getByText("Try again"));
    expect(await screen.findByText("Show de Rock")).toBeTruthy();
  });
});

describe("EventPage", () => {
  it("updates the counters from the live socket and catches up after a reconnection", async () => {
    fakeFetch({
      ...tickets(),
      "GET /api/events/e1": [{ body: EVENT }, { body: { ...EVENT, live: { ...EVENT.live, sold: 40, available: 55 } } }],
    });
    renderPage(<EventPage eventId="e1" />);
    expect((await screen.findByTestId("available")).textContent).toBe("85");
    const ws = FakeWebSocket.instances.find((w) => w.url.endsWith("/api/events/e1/live"))!;
    act(() => ws.open());
    act(() => ws.receive({ type: "stock", sold: 11, held: 5, available: 84, status: "on_sale" }));
    // The query cache tells its readers on the next tick.
    await waitFor(() => expect(screen.getByTestId("available").textContent).toBe("84"));
    expect(screen.getByTestId("sold").textContent).toBe("11");
    act(() => ws.receive({ type: "purchase", buyer: "Maria S.", at: new Date().toISOString() }));
    expect(screen.getByText("Maria S.")).toBeTruthy();
    // The socket drops; the page says so, reconnects by itself and re-reads the event.
    act(() => ws.drop());
    expect(screen.getByText("Reconnecting…")).toBeTruthy();
    await waitFor(() => expect(FakeWebSocket.instances.length).toBe(2), { timeout: 2000 });
    act(() => FakeWebSocket.instances[1]!.open());
    await waitFor(() => expect(screen.getByTestId("available").textContent).toBe("55"));
    expect(screen.getByText("Live")).toBeTruthy();
  });

  it("offers a buyer only what is left of the per-person limit", async () => {
    const owns = (n: number) => ({
      id: "c1",
      name: "Ana Souza",
      email: "ana@example.com",
      purchases: Array.from({ length: n }, (_, i) => ({ id: `p${i}`, event_id: "e1", status: "confirmed" })),
    });
    fakeFetch({
      ...tickets(),
      "GET /api/events/e1": { body: { ...EVENT, max_per_customer: 4 } },
      "GET /api/customers/c1": [{ body: owns(2) }],
    });
    signIn();
    const first = renderPage(<EventPage eventId="e1" />);
    const qty = (await screen.findByLabelText("Tickets")) as HTMLSelectElement;
    await waitFor(() => expect([...qty.options].map((o) => o.value)).toEqual(["1", "2"]));
    expect(screen.getByText(/you already own 2, so up to 2 more/)).toBeTruthy();
    expect(screen.queryByText(/as many as one person may buy/)).toBeNull();
    first.unmount();

    fakeFetch({
      ...tickets(),
      "GET /api/events/e1": { body: { ...EVENT, max_per_customer: 4 } },
      "GET /api/customers/c1": { body: owns(4) },
    });
    renderPage(<EventPage eventId="e1" />);
    expect(await screen.findByText(/You already own 4 tickets for this event, as many as one person may buy/)).toBeTruthy();
    expect((screen.getByRole("button", { name: /^Buy/ }) as HTMLButtonElement).disabled).toBe(true);
  });

  it("buys in one step through POST /api/orders, the result arriving over /api/ws", async () => {
    const accepted = { id: "o1", status: "queued", event_id: "e1", quantity: 2 };
    const { calls } = fakeFetch({
      ...tickets(),
      ...provider(),
      "GET /api/events/e1": { body: EVENT },
      "POST /api/orders": [{ status: 503, body: { error: "busy", detail: "try again" } }, { status: 202, body: accepted }],
      "GET /api/orders/o1": { body: { ...accepted, accepted_at: "2030-01-01T00:00:00Z" } },
    });
    signIn();
    renderPage(<EventPage eventId="e1" />);
    fireEvent.change(await screen.findByLabelText("Tickets"), { target: { value: "2" } });
    fireEvent.click(screen.getByText("Buy now in one step"));
    fireEvent.change(screen.getByLabelText("Card number"), { target: { value: "4242 4242 4242 4242" } });
    fireEvent.click(screen.getByRole("button", { name: "Buy 2 tickets now" }));
    expect(await screen.findByRole("alert")).toBeTruthy(); // the first answer failed
    fireEvent.click(screen.getByRole("button", { name: "Buy 2 tickets now" }));
    expect(await screen.findByText(/Order received/)).toBeTruthy();
    const posts = calls.filter((c) => c.method === "POST" && c.url === "/api/orders");
    expect(posts).toHaveLength(2);
    expect(posts[0]!.body).toEqual({ event_id: "e1", quantity: 2, payment_method: "pm_4242" });
    expect(posts[1]!.body).toEqual(posts[0]!.body); // the retry pays with the same payment method
    const tokenised = calls.filter((c) => c.url === `${PAYMENTS}/v1/payment_methods`);
    expect(tokenised.map((c) => c.body)).toEqual([{ card_number: "4242424242424242" }]); // once
    noCardSentToCrowdPass(calls, "4242424242424242");
    expect(posts[0]!.headers["Idempotency-Key"]).toBeTruthy();
    expect(posts[1]!.headers["Idempotency-Key"]).toBe(posts[0]!.headers["Idempotency-Key"]);
    const ws = FakeWebSocket.instances.find((w) => w.url.includes("/api/ws?ticket=tk-tok-"))!;
    act(() => ws.open()); // the page asks once, in case the decision came before the socket
    await waitFor(() => expect(calls.some((c) => c.url === "/api/orders/o1")).toBe(true));
    const notice = "The payment provider is slow; your place is kept and we keep trying.";
    act(() => ws.receive({ type: "order", order: { ...accepted, notice } })); // still queued: told why
    expect((await screen.findByTestId("order-notice")).textContent).toBe(notice);
    expect(screen.getByText(/Order received/)).toBeTruthy();
    act(() => ws.receive({ type: "order", order: { ...accepted, status: "confirmed", total_cents: 10000 } }));
    expect(await screen.findByText("You are going!")).toBeTruthy();
    expect(screen.getByText(/2 tickets bought for/)).toBeTruthy();
  });

  it("asks to sign in inline, then holds and goes to the checkout", async () => {
    const { calls } = fakeFetch({
      ...tickets(),
      "GET /api/events/e1": { body: EVENT },
      "POST /api/sessions": { body: { token: "tok", customer: { id: "c1", name: "Ana", email: "a@b.co" } } },
      "POST /api/events/e1/holds": { status: 201, body: HOLD },
    });
    renderPage(<EventPage eventId="e1" />);
    fireEvent.click(await screen.findByRole("button", { name: "Buy 1 ticket" }));
    fireEvent.click(screen.getByRole("button", { name: "Log in" }));
    fireEvent.change(screen.getByLabelText("Email"), { target: { value: "a@b.co" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "secret123" } });
    fireEvent.click(screen.getByRole("button", { name: "Log in and continue" }));
    await waitFor(() => expect(window.location.pathname).toBe("/checkout/h1"));
    const hold = calls.find((c) => c.method === "POST" && c.url.endsWith("/holds"))!;
    expect(hold.headers.Authorization).toBe("Bearer tok");
    expect(hold.body).toEqual({ quantity: 1 });
  });

  it("shows the sold-out message when the last ticket goes", async () => {
    fakeFetch({
      ...tickets(),
      "GET /api/events/e1": { body: EVENT },
      "POST /api/events/e1/holds": { status: 409, body: { error: "sold_out", detail: "none left" } },
    });
    signIn();
    renderPage(<EventPage eventId="e1" />);
    fireEvent.click(await screen.findByRole("button", { name: "Buy 1 ticket" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/Sold out/);
    const ws = FakeWebSocket.instances.find((w) => w.url.endsWith("/live"))!;
    act(() => ws.receive({ type: "stock", sold: 95, held: 5, available: 0, status: "sold_out" }));
    expect(await screen.findByRole("heading", { name: "Sold out" })).toBeTruthy();
  });
});

describe("EventPage seat map", () => {
  const SEATED = {
    ...EVENT,
    seated: true,
    sections: [{ name: "VIP", price_cents: 9000, capacity: 2 }],
    live: { capacity: 2, sold: 0, held: 0, available: 2, status: "on_sale" },
  };
  const MAP = {
    event_id: "e1",
    version: 3,
    sections: [{ name: "VIP", price_cents: 9000, rows: [{ label: "A", numbers: [1, 2], ids: ["s1", "s2"], status: "aa" }] }],
  };

  it("applies seat deltas from the socket and re-reads the map only on a version gap", async () => {
    const { calls } = fakeFetch({
      "GET /api/events/e1": { body: SEATED },
      "GET /api/events/e1/seats": [
        { body: MAP },
        { body: { ...MAP, version: 20, sections: [{ ...MAP.sections[0], rows: [{ ...MAP.sections[0]!.rows[0]!, status: "ss" }] }] } },
      ],
    });
    signIn();
    renderPage(<EventPage eventId="e1" />);
    const seat1 = await screen.findByRole("button", { name: /row A, seat 1,/ });
    expect((seat1 as HTMLButtonElement).disabled).toBe(false);
    const seatReads = () => calls.filter((c) => c.url.includes("/seats")).length;
    expect(calls.find((c) => c.url.includes("/seats"))!.url).toContain("format=compact");
    const ws = FakeWebSocket.instances.find((w) => w.url.endsWith("/api/events/e1/live"))!;
    act(() => ws.open());
    act(() => ws.receive({ type: "seats", since: 3, version: 4, changes: [{ id: "s1", status: "held" }] }));
    // The query cache tells its observers on its next tick.
    await waitFor(() =>
      expect((screen.getByRole("button", { name: /row A, seat 1,/ }) as HTMLButtonElement).disabled).toBe(true),
    );
    expect(seatReads()).toBe(1); // no refetch for a delta that follows on
    act(() => ws.receive({ type: "seats", since: 10, version: 11, changes: [] }));
    await waitFor(() => expect(seatReads()).toBe(2));
    await waitFor(() =>
      expect((screen.getByRole("button", { name: /row A, seat 2,/ }) as HTMLButtonElement).disabled).toBe(true),
    );
  });
});

describe("CheckoutPage", () => {
  it("counts down from seconds_left and retries a failed payment with the same key", async () => {
    const { calls } = fakeFetch({
      ...tickets(),
      ...provider(),
      "GET /api/holds/h1": { body: HOLD },
      "GET /api/events/e1": { body: EVENT },
      "POST /api/holds/h1/confirm": [
        { status: 402, body: { error: "payment_declined", detail: "declined" } },
        { status: 503, body: { error: "busy", detail: "try again" } },
        { status: 200, body: { hold_id: "h1", purchases: [{ id: "p1" }] } },
      ],
    });
    signIn();
    renderPage(<CheckoutPage holdId="h1" />);
    expect((await screen.findByTestId("countdown")).textContent).toBe("2:00");
    fireEvent.click(screen.getByText(/4000 0000 0000 0002/));
    fireEvent.click(screen.getByRole("button", { name: /^Pay/ }));
    expect(await screen.findByText("Card declined")).toBeTruthy();
    fireEvent.click(screen.getByText(/4242 4242 4242 4242/));
    fireEvent.click(screen.getByRole("button", { name: /^Pay/ }));
    expect(await screen.findByText(/Pressing Pay again is safe/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: /^Pay/ }));
    expect(await screen.findByText("You are going!")).toBeTruthy();
    const keys = calls.filter((c) => c.url.endsWith("/confirm")).map((c) => c.headers["Idempotency-Key"]);
    expect(keys).toHaveLength(3);
    expect(keys[1]).toBe(keys[2]); // the retry of the same card repeats the key
    expect(keys[0]).not.toBe(keys[1]); // another card is another payment attempt
    const methods = calls.filter((c) => c.url.endsWith("/confirm")).map((c) => c.body);
    expect(methods).toEqual([{ payment_method: "pm_0002" }, { payment_method: "pm_4242" }, { payment_method: "pm_4242" }]);
    noCardSentToCrowdPass(calls, "4242424242424242");
    noCardSentToCrowdPass(calls, "4000000000000002");
  });

  it("offers one extension in the last minute", async () => {
    const last = { ...HOLD, seconds_left: 50, extension_s: 300, extended_at: null };
    const { calls } = fakeFetch({
      ...tickets(),
      "GET /api/holds/h1": [{ body: { ...HOLD, extension_s: 300, extended_at: null } }, { body: last }],
      "GET /api/events/e1": { body: EVENT },
      "POST /api/holds/h1/extend": { body: { ...last, seconds_left: 350, extension_s: 0, extended_at: "2030-01-01T00:04:10Z" } },
    });
    signIn();
    renderPage(<CheckoutPage holdId="h1" />);
    expect((await screen.findByTestId("countdown")).textContent).toBe("2:00");
    expect(screen.queryByRole("button", { name: /^Extend/ })).toBeNull(); // not before the last minute
    // A hold pushed over the socket (without extension_s) keeps what an extension would add.
    const ws = FakeWebSocket.instances.find((w) => w.url.includes("/api/ws"))!;
    act(() => ws.receive({ type: "hold", hold: { ...HOLD, seconds_left: 50 } }));
    fireEvent.click(await screen.findByRole("button", { name: "Extend by 5 min" }));
    await waitFor(() => expect(screen.getByTestId("countdown").textContent).toBe("5:50"));
    expect(calls.filter((c) => c.method === "POST" && c.url.endsWith("/extend"))).toHaveLength(1);
    expect(screen.queryByRole("button", { name: /^Extend/ })).toBeNull(); // once per hold
    expect(screen.getByText(/Extended once/)).toBeTruthy();
  });

  it("tells the buyer when the hold expired", async () => {
    fakeFetch({
      ...tickets(),
      ...provider(),
      "GET /api/holds/h1": { body: HOLD },
      "GET /api/events/e1": { body: EVENT },
      "POST /api/holds/h1/confirm": { status: 410, body: { error: "hold_expired", detail: "expired" } },
    });
    signIn();
    renderPage(<CheckoutPage holdId="h1" />);
    fireEvent.change(await screen.findByLabelText("Card number"), { target: { value: "4242424242424242" } });
    fireEvent.click(screen.getByRole("button", { name: /^Pay/ }));
    expect(await screen.findByRole("heading", { name: "Time is up" })).toBeTruthy();
    expect(screen.getByText(/went back on sale/)).toBeTruthy();
    expect(screen.getByRole("link", { name: "Try again" }).getAttribute("href")).toBe("/events/e1");
  });

  it("shows the expiry pushed by the server", async () => {
    fakeFetch({ ...tickets(), "GET /api/holds/h1": { body: HOLD }, "GET /api/events/e1": { body: EVENT } });
    signIn();
    renderPage(<CheckoutPage holdId="h1" />);
    await screen.findByTestId("countdown");
    const ws = FakeWebSocket.instances.find((w) => w.url.includes("/api/ws?ticket=tk-tok-"))!;
    act(() => ws.receive({ type: "hold", hold: { ...HOLD, status: "expired", seconds_left: 0 } }));
    expect(await screen.findByRole("heading", { name: "Time is up" })).toBeTruthy();
  });

  it("offers the front of the line after an expiry in a waiting-room sale, within the grace window", async () => {
    const grace = new Date(Date.now() + 90_000).toISOString();
    const { calls } = fakeFetch({
      "GET /api/holds/h1": { body: { ...HOLD, status: "expired", seconds_left: 0 } },
      "GET /api/events/e1": { body: { ...EVENT, waiting_room: { ...EVENT.waiting_room, enabled: true } } },
      "GET /api/events/e1/queue/me": { body: { status: "used", position: null, eta_s: null, grace_until: grace } },
      "POST /api/events/e1/queue/return": { body: { status: "waiting", position: 1, eta_s: 2 } },
    });
    signIn();
    renderPage(<CheckoutPage holdId="h1" />);
    expect(await screen.findByRole("heading", { name: "Time is up" })).toBeTruthy();
    const back = await screen.findByRole("button", { name: "Back to the front of the line" });
    expect(screen.getByRole("timer").textContent).toMatch(/^1:(2|3)\d$/);
    fireEvent.click(back);
    await waitFor(() => expect(calls.some((c) => c.method === "POST" && c.url.endsWith("/queue/return"))).toBe(true));
    const asked = calls.find((c) => c.url.endsWith("/queue/me"))!;
    expect(asked.headers.Authorization).toBe("Bearer tok");
  });

  it("offers nothing when the server has no grace for this visitor", async () => {
    fakeFetch({
      "GET /api/holds/h1": { body: { ...HOLD, status: "expired", seconds_left: 0 } },
      "GET /api/events/e1": { body: { ...EVENT, waiting_room: { ...EVENT.waiting_room, enabled: true } } },
      "GET /api/events/e1/queue/me": { body: { status: "used", position: null, eta_s: null } },
    });
    signIn();
    renderPage(<CheckoutPage holdId="h1" />);
    expect(await screen.findByRole("heading", { name: "Time is up" })).toBeTruthy();
    await new Promise((r) => setTimeout(r, 50));
    expect(screen.queryByRole("button", { name: "Back to the front of the line" })).toBeNull();
  });
});

describe("SeatMap", () => {
  const seats: Seat[] = [
    { id: "s1", section: "A", row: "1", number: 1, price_cents: 1000, status: "available" },
    { id: "s2", section: "A", row: "1", number: 2, price_cents: 1000, status: "sold" },
    { id: "s3", section: "A", row: "2", number: 1, price_cents: 1000, status: "available" },
  ];

  it("disables taken seats and stops at the limit", () => {
    const toggled: string[] = [];
    const { rerender } = render(<SeatMap seats={seats} selected={[]} max={1} onToggle={(s) => toggled.push(s.id)} />);
    expect(screen.getByRole("button", { name: /row 1, seat 2.*taken/ }).hasAttribute("disabled")).toBe(true);
    fireEvent.click(screen.getByRole("button", { name: /row 1, seat 1,/ }));
    expect(toggled).toEqual(["s1"]);
    rerender(<SeatMap seats={seats} selected={["s1"]} max={1} onToggle={(s) => toggled.push(s.id)} />);
    expect(screen.getByRole("button", { name: /row 2, seat 1/ }).hasAttribute("disabled")).toBe(true);
    expect(screen.getByRole("button", { name: /row 1, seat 1,/ }).getAttribute("aria-pressed")).toBe("true");
  });
});

function queueSocket(part: string): Promise<FakeWebSocket> {
  return waitFor(() => {
    const ws = FakeWebSocket.instances.find((w) => w.url.includes(part));
    if (!ws) throw new Error(`no socket ${part}`);
    return ws;
  });
}

describe("WaitingRoomPage", () => {
  const ROOM = { ...EVENT, waiting_room: { ...EVENT.waiting_room, enabled: true } };
  const PLACE = { status: "waiting", position: 3, eta_s: 30, state: "open", sales_open_at: null, prequeue: "fifo" };

  it("queues an anonymous visitor, keeps the visitor token and asks to sign in only at the turn", async () => {
    const { calls } = fakeFetch({
      ...tickets(),
      "GET /api/events/e1": { body: ROOM },
      "POST /api/events/e1/queue": { body: { ...PLACE, visitor_token: "vis.tok.en" } },
    });
    setSession(null);
    renderPage(<WaitingRoomPage eventId="e1" />);
    expect((await screen.findByTestId("position")).textContent).toBe("3");
    expect(JSON.parse(localStorage.getItem("crowdpass.visitor")!)).toBe("vis.tok.en");
    expect(calls.find((c) => c.url.endsWith("/queue"))!.headers.Authorization).toBeUndefined();
    const ws = await queueSocket("/queue/ws?ticket=tk-vis.tok.en-");
    act(() => ws.open());
    act(() =>
      ws.receive({ type: "position", position: 2, eta_s: 40, eta_range_s: [32, 50], rate: 0.05, blocked: false, state: "open" }),
    );
    expect(screen.getByTestId("wait").textContent).toBe("Estimated wait: under a minute");
    act(() => ws.receive({ type: "admitted", admission_token: "adm", admission_expires_at: "2999-01-01T00:00:00Z" }));
    expect(await screen.findByText("It is your turn!")).toBeTruthy();
    expect(screen.getByText(/Sign in or create an account to buy/)).toBeTruthy();
    expect(calls.some((c) => c.url.endsWith("/holds"))).toBe(false);
    expect(document.title).toContain("Your turn!");
  });

  it("never joins again after the turn was used in another tab", async () => {
    const { calls } = fakeFetch({
      ...tickets(),
      "GET /api/events/e1": { body: ROOM },
      "POST /api/events/e1/queue": { body: PLACE },
      "GET /api/events/e1/queue/me": { status: 404, body: { error: "not_in_queue", detail: "no" } },
    });
    signIn();
    renderPage(<WaitingRoomPage eventId="e1" />);
    await screen.findByTestId("position");
    const ws = await queueSocket("/queue/ws");
    act(() => ws.receive({ type: "done", status: "used" }));
    expect(await screen.findByTestId("elsewhere")).toBeTruthy();
    const joins = calls.filter((c) => c.method === "POST" && c.url.endsWith("/queue"));
    expect(joins).toHaveLength(1);
  });

  it("says 'You are next' only when a ticket can be had", async () => {
    fakeFetch({
      ...tickets(),
      "GET /api/events/e1": { body: ROOM },
      "POST /api/events/e1/queue": { body: { ...PLACE, position: 1, eta_s: null, blocked: true } },
    });
    signIn();
    renderPage(<WaitingRoomPage eventId="e1" />);
    await screen.findByTestId("position");
    expect(screen.queryByText("You are next.", { exact: false })).toBeNull();
    expect(screen.getByTestId("wait").textContent).toMatch(/held by other buyers/);
  });

  it("shows the place, follows it live, and goes to the checkout when admitted", async () => {
    const { calls } = fakeFetch({
      ...tickets(),
      "GET /api/events/e1": { body: ROOM },
      "POST /api/events/e1/queue": { body: PLACE },
      "POST /api/events/e1/holds": { status: 201, body: HOLD },
    });
    signIn();
    localStorage.setItem("crowdpass.intent.e1", JSON.stringify({ quantity: 2, half_price: 1 }));
    renderPage(<WaitingRoomPage eventId="e1" />);
    expect((await screen.findByTestId("position")).textContent).toBe("3");
    const ws = await queueSocket("/api/events/e1/queue/ws?ticket=tk-tok-");
    act(() => ws.open());
    act(() => ws.receive({ type: "position", position: 1, eta_s: 5, state: "open" }));
    expect(screen.getByTestId("position").textContent).toBe("1");
    expect(screen.getByText("You are next.", { exact: false })).toBeTruthy();
    act(() => ws.receive({ type: "admitted", admission_token: "adm", admission_expires_at: "2999-01-01T00:00:00Z" }));
    await waitFor(() => expect(window.location.pathname).toBe("/checkout/h1"));
    const hold = calls.find((c) => c.url.endsWith("/holds"))!;
    expect(hold.headers["Admission-Token"]).toBe("adm");
    expect(hold.body).toEqual({ quantity: 2, half_price: 1 });
  });

  it("says sold out when the tickets run out first", async () => {
    fakeFetch({ ...tickets(), "GET /api/events/e1": { body: ROOM }, "POST /api/events/e1/queue": { body: PLACE } });
    signIn();
    renderPage(<WaitingRoomPage eventId="e1" />);
    await screen.findByTestId("position");
    const ws = await queueSocket("/queue/ws");
    act(() => ws.receive({ type: "sold_out", state: "sold_out" }));
    expect(screen.getByRole("heading", { name: "Sold out" })).toBeTruthy();
    expect(screen.getByRole("link", { name: "Find another event" })).toBeTruthy();
  });

  it("solves the join puzzle when the event asks for one", async () => {
    const { calls } = fakeFetch({
      ...tickets(),
      "GET /api/events/e1": { body: ROOM },
      "POST /api/events/e1/queue": [
        { status: 403, body: { error: "pow_required", detail: "solve" } },
        { body: PLACE },
      ],
      "GET /api/events/e1/queue/challenge": { body: { challenge: "123.6.abc.def", difficulty: 6 } },
    });
    signIn();
    renderPage(<WaitingRoomPage eventId="e1" />);
    expect((await screen.findByTestId("position")).textContent).toBe("3");
    const proof = calls.filter((c) => c.url.endsWith("/queue")).at(-1)!.body as { pow_challenge: string; pow_nonce: string };
    expect(proof.pow_challenge).toBe("123.6.abc.def");
    const { leadingZeroBits, sha256 } = await import("../lib/sha256");
    expect(leadingZeroBits(sha256(proof.pow_challenge + proof.pow_nonce))).toBeGreaterThanOrEqual(6);
  });
});

describe("LotteryInfo", () => {
  it("checks the revealed seed against the commitment", () => {
    const seed = "ab".repeat(32);
    // SHA-256 of the seed above, as the server computes it.
    const commitment = "271a413bd339c5709fdceaec41f14f11e9fbfb5042d72d331c65f32b284cd09a";
    const { rerender } = render(<LotteryInfo commitment={commitment} seed={seed} customerId="c1" />);
    expect(screen.getByRole("status").textContent).toMatch(/equals the commitment/);
    rerender(<LotteryInfo commitment={"0".repeat(64)} seed={seed} customerId="c1" />);
    expect(screen.getByRole("status").textContent).toMatch(/does not match/);
    rerender(<LotteryInfo commitment="x" seed={null} customerId="c1" />);
    expect(screen.getByTestId("seed").textContent).toMatch(/revealed when the sale opens/);
  });
});

describe("Organizer pages", () => {
  it("asks for the organizer token once, then creates an event", async () => {
    const { calls } = fakeFetch({
      ...tickets(),
      "GET /api/admin/jobs": { body: { queues: [] } },
      "GET /api/events": { body: [] },
      "POST /api/events": { status: 201, body: { ...EVENT, id: "new", name: "Novo Show" } },
    });
    const { OrganizerPage } = await import("./OrganizerPage");
    renderPage(<OrganizerPage />);
    fireEvent.change(screen.getByLabelText("Organizer token"), { target: { value: "secret-admin" } });
    fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    fireEvent.change(await screen.findByLabelText("Name"), { target: { value: "Novo Show" } });
    fireEvent.change(screen.getByLabelText("Starts at"), { target: { value: "2031-05-01T20:00" } });
    fireEvent.change(screen.getByLabelText("Price"), { target: { value: "75" } });
    fireEvent.change(screen.getByLabelText("Capacity"), { target: { value: "500" } });
    fireEvent.click(screen.getByRole("button", { name: "Create event" }));
    expect(await screen.findByText("Event created")).toBeTruthy();
    const post = calls.find((c) => c.method === "POST" && c.url === "/api/events")!;
    expect(post.headers.Authorization).toBe("Bearer secret-admin");
    expect(post.body).toMatchObject({ name: "Novo Show", price_cents: 7500, capacity: 500 });
    expect(JSON.parse(localStorage.getItem("crowdpass.admin")!)).toBe("secret-admin");
  });

  it("lists the organizer's events with live sold counts", async () => {
    localStorage.setItem("crowdpass.admin", JSON.stringify("secret-admin"));
    fakeFetch({ "GET /api/events": { body: [{ ...EVENT, live: { ...EVENT.live, sold: 0, held: 0, available: 100 } }] } });
    const { OrganizerPage } = await import("./OrganizerPage");
    renderPage(<OrganizerPage />);
    expect(await screen.findByText(/0 \/ 100 sold/)).toBeTruthy();
    const ws = FakeWebSocket.instances.find((w) => w.url.endsWith("/api/events/e1/live"))!;
    act(() => ws.receive({ type: "stock", sold: 98, held: 1, available: 1, status: "on_sale" }));
    expect(await screen.findByText(/98 \/ 100 sold/)).toBeTruthy();
    expect(screen.getByText("Only 1 left")).toBeTruthy();
  });

  it("shows the job monitor's queues, failures and invariant check", async () => {
    localStorage.setItem("crowdpass.admin", JSON.stringify("secret-admin"));
    const run = {
      id: "j1",
      function: "holds.expire",
      queue: "arq:queue",
      status: "failed",
      tries: 3,
      enqueued_at: "2030-01-01T00:00:00Z",
      started_at: "2030-01-01T00:00:00Z",
      finished_at: "2030-01-01T00:00:01Z",
      wait_s: 0.01,
      run_s: 0.2,
      error: "boom",
    };
    fakeFetch({
      ...tickets(),
      "GET /api/admin/jobs": {
        body: {
          generated_at: "2030-01-01T00:00:02Z",
          queues: [{ name: "ticket_orders", queued: 7, deferred: 0, in_progress: 2, oldest_queued_s: 1.5 }],
          orders_undecided: 9,
          recent: [run],
          failures: [run],
          results_scanned: 1,
          crons: [],
          holds: { active: 4, expiring_within_60s: 1, soonest: [] },
          last_invariant_check: { checked_at: "2030-01-01T00:00:00Z", ok: false, events: 3, violations: [{ event: "x" }] },
          payments: {
            deadline_s: 600,
            backoff_max_s: 15,
            breaker_failures: 5,
            breaker_cooldown_s: 5,
            circuits: [{ process: "w:1", state: "open", since: "2030-01-01T00:00:00Z", failures: 7, opened: 1 }],
            orders_waiting: 12,
            next_deadline: "2030-01-01T00:10:00Z",
          },
        },
      },
    });
    const { JobsPage } = await import("./JobsPage");
    renderPage(<JobsPage />);
    expect(await screen.findByText("Invariant violated (1)")).toBeTruthy();
    expect(screen.getByText("ticket_orders")).toBeTruthy();
    expect(screen.getByText("boom")).toBeTruthy();
    expect(screen.getByText("9")).toBeTruthy();
    const payments = screen.getByTestId("payments-state").textContent!;
    expect(payments).toMatch(/Not answering: circuit open since/);
    expect(payments).toMatch(/12 orders waiting with their tickets kept/);
    expect(screen.getByText(/Orders wait up to/)).toBeTruthy();
  });

  it("names events, says durations in words and keeps full ids to hover and copy", async () => {
    localStorage.setItem("crowdpass.admin", JSON.stringify("secret-admin"));
    const eventId = "0b6f7c1e-5a43-4f7e-9d3a-2b1c0d9e8f7a";
    const holdId = "9a8b7c6d-1111-2222-3333-444455556666";
    const run = {
      id: `wr-advance:${eventId}`,
      function: "waitingroom.advance",
      queue: "arq:queue",
      status: "complete",
      tries: 1,
      enqueued_at: "2030-01-01T00:00:00Z",
      started_at: "2030-01-01T00:05:00Z",
      finished_at: "2030-01-01T00:05:01Z",
      wait_s: 300.054,
      run_s: 0.2,
      error: null,
    };
    fakeFetch({
      ...tickets(),
      "GET /api/admin/jobs": {
        body: {
          queues: [],
          recent: [run],
          holds: {
            active: 1,
            expiring_within_60s: 1,
            soonest: [{ id: holdId, event_id: eventId, quantity: 2, expires_at: "2030-01-01T00:06:00Z", seconds_left: 42 }],
          },
        },
      },
      "GET /api/events": { body: [{ ...EVENT, id: eventId, name: "Mega Turnê" }] },
    });
    const writeText = vi.fn(async () => undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const { JobsPage } = await import("./JobsPage");
    renderPage(<JobsPage />);
    expect(await screen.findByText("5 min")).toBeTruthy();
    expect(screen.getByText("200 ms")).toBeTruthy();
    expect(screen.getByText("42 s")).toBeTruthy();
    await waitFor(() => expect(screen.getAllByText("Mega Turnê").length).toBe(2));
    expect(screen.queryByText(/Waited 300054 ms|300054/)).toBeNull();
    expect(screen.getByText("9a8b7c6d…").getAttribute("title")).toBe(holdId);
    fireEvent.click(screen.getByRole("button", { name: `Copy hold id ${holdId}` }));
    expect(writeText).toHaveBeenCalledWith(holdId);
    expect(screen.getByRole("button", { name: `Copy job id wr-advance:${eventId}` })).toBeTruthy();
    expect(document.querySelector("td[data-label='Waited']")?.textContent).toBe("5 min");
  });
});
