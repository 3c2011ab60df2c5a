import { act, fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { normalizeEvent } from "../api/endpoints";
import type { TicketTypeOut } from "../api/types";
import { DraftError, draftToBody, EMPTY_DRAFT } from "../lib/eventForm";
import { applyStock, isSeated } from "../lib/events";
import { setSession } from "../lib/storage";
import { FakeWebSocket, fakeFetch } from "../test/fakes";
import { anEvent } from "../test/events";
import { renderPage } from "../test/render";
import { EventPage } from "../pages/EventPage";
import { pickType, typeNote } from "./TicketTypePicker";

const type = (name: string, over: Partial<TicketTypeOut> = {}): TicketTypeOut => ({
  name,
  kind: "general",
  price_cents: 10000,
  capacity: 50,
  available: 50,
  held: 0,
  sold: 0,
  sales_open_at: null,
  sales_close_at: null,
  max_per_customer: null,
  on_sale: true,
  ...over,
});

const EVENT = anEvent({
  name: "Festival",
  price_cents: 10000,
  capacity: 60,
  seated: true, // the API says seated for any event with sections; its types say how it sells
  sections: [
    { name: "Pista", price_cents: 10000, capacity: 50 },
    { name: "VIP", price_cents: 30000, capacity: 10 },
  ],
  ticket_types: [type("Pista"), type("VIP", { price_cents: 30000, capacity: 10, available: 10 })],
  max_per_customer: 4,
  live: { capacity: 60, sold: 0, held: 0, available: 60, status: "on_sale" },
});

describe("ticket types", () => {
  it("choose the first type on sale and never a sold-out one", () => {
    const types = [type("Early", { on_sale: false }), type("Pista", { available: 0 }), type("VIP")];
    expect(pickType(types, null)).toBe("VIP");
    expect(pickType(types, "Pista")).toBe("VIP");
    expect(pickType([type("A"), type("B")], "B")).toBe("B");
    expect(pickType([type("A", { available: 0 })], null)).toBeNull();
    expect(typeNote(type("A", { available: 0 }))).toBe("Sold out");
    expect(typeNote(type("A", { available: 7 }))).toBe("7 left");
    expect(typeNote(type("A", { on_sale: false, sales_open_at: "2999-01-01T00:00:00Z" }))).toMatch(/^On sale /);
  });

  it("sell an event of general-admission types by quantity, with live counters per type", () => {
    const event = normalizeEvent(EVENT);
    expect(isSeated(event)).toBe(false);
    expect(isSeated({ ...event, ticket_types: [type("Cadeira", { kind: "seated" })] })).toBe(true);
    const next = applyStock(event, {
      sold: 10,
      held: 0,
      available: 50,
      status: "on_sale",
      types: [{ name: "VIP", sold: 10, held: 0, available: 0 }],
    });
    const vip = next.ticket_types!.find((t) => t.name === "VIP")!;
    expect([vip.sold, vip.available, vip.on_sale]).toEqual([10, 0, false]);
    expect(next.ticket_types![0]).toEqual(event.ticket_types![0]);
    // Tickets come back (an expired hold): VIP is on sale again; a type before its window is not.
    const back = applyStock(
      { ...next, ticket_types: [...next.ticket_types!, type("Late", { sales_open_at: "2999-01-01T00:00:00Z", on_sale: false })] },
      { sold: 9, held: 0, available: 51, status: "on_sale", types: [
        { name: "VIP", sold: 9, held: 0, available: 1 }, { name: "Late", sold: 0, held: 0, available: 50 }] },
    );
    expect(back.ticket_types!.map((t) => [t.name, t.on_sale])).toEqual([["Pista", true], ["VIP", true], ["Late", false]]);
  });

  it("become the `sections` of the organizer's event body", () => {
    const draft = {
      ...EMPTY_DRAFT,
      name: "Festival",
      startsAt: "2030-08-15T20:00",
      kind: "types" as const,
      types: [
        { ...EMPTY_DRAFT.types[0]!, name: "Pista", price: "100", capacity: "500" },
        { ...EMPTY_DRAFT.types[1]!, name: "VIP", price: "300", capacity: "50", limit: "2", closesAt: "2030-08-01T00:00" },
        { ...EMPTY_DRAFT.types[1]!, name: "Cadeira", price: "200", seating: "seated" as const, rows: "3", seatsPerRow: "4" },
      ],
    };
    const body = draftToBody(draft);
    expect(body.sections).toEqual([
      { name: "Pista", price_cents: 10000, capacity: 500 },
      { name: "VIP", price_cents: 30000, capacity: 50, max_per_customer: 2, sales_close_at: new Date("2030-08-01T00:00").toISOString() },
      { name: "Cadeira", price_cents: 20000, rows: 3, seats_per_row: 4 },
    ]);
    const twice = { ...draft, types: [draft.types[0]!, { ...draft.types[1]!, name: "Pista" }] };
    expect(() => draftToBody(twice)).toThrow(DraftError);
    try {
      draftToBody({ ...draft, types: [{ ...draft.types[0]!, opensAt: "2030-08-02T00:00", closesAt: "2030-08-01T00:00" }] });
    } catch (err) {
      expect((err as DraftError).field).toBe("type-0-closesAt");
    }
  });

  it("let the buyer pick VIP on the event page, and the hold asks for VIP", async () => {
    const hold = { id: "h1", event_id: "e1", status: "active", expires_at: "2030-01-01T00:05:00Z", seconds_left: 300,
      tickets: [], total_cents: 60000 };
    const { calls } = fakeFetch({
      "POST /api/ws-tickets": { status: 201, body: { ticket: "tk", expires_in_s: 30 } },
      "GET /api/events/e1": { body: { ...EVENT, ticket_types: [type("Pista", { available: 0 }), EVENT.ticket_types[1]] } },
      "GET /api/customers/c1": { body: { id: "c1", name: "Ana Souza", email: "ana@example.com", purchases: [] } },
      "POST /api/events/e1/holds": { status: 201, body: hold },
    });
    setSession({ token: "tok", customer: { id: "c1", name: "Ana Souza", email: "ana@example.com" } });
    renderPage(<EventPage eventId="e1" />);
    const pista = (await screen.findByLabelText(/^Pista/)) as HTMLInputElement;
    const vip = screen.getByLabelText(/^VIP/) as HTMLInputElement;
    expect(pista.disabled).toBe(true); // sold out
    expect(vip.checked).toBe(true);
    expect(screen.getByText("Sold out")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Tickets"), { target: { value: "2" } });
    expect(screen.getByText("R$600.00")).toBeTruthy(); // the VIP price, twice
    fireEvent.click(screen.getByRole("button", { name: "Buy 2 tickets" }));
    await waitFor(() => expect(calls.some((c) => c.method === "POST" && c.url.endsWith("/holds"))).toBe(true));
    const post = calls.find((c) => c.method === "POST" && c.url.endsWith("/holds"))!;
    expect(post.body).toEqual({ quantity: 2, ticket_type: "VIP" });
    const ws = FakeWebSocket.instances.find((w) => w.url.includes("/api/events/e1/live"));
    if (ws) act(() => ws.open());
  });

  it("send the chosen type with a one-step order too", async () => {
    const accepted = { id: "o1", status: "queued", event_id: "e1", quantity: 1 };
    const { calls } = fakeFetch({
      "POST /api/ws-tickets": { status: 201, body: { ticket: "tk", expires_in_s: 30 } },
      "GET /api/config": { body: { payments_url: "http://pay.test" } },
      "POST http://pay.test/v1/payment_methods": { status: 201, body: { id: "pm_4242", brand: "visa", last4: "4242" } },
      "GET /api/events/e1": { body: EVENT },
      "GET /api/customers/c1": { body: { id: "c1", name: "Ana Souza", email: "ana@example.com", purchases: [] } },
      "POST /api/orders": { status: 202, body: accepted },
      "GET /api/orders/o1": { body: { ...accepted, accepted_at: "2030-01-01T00:00:00Z" } },
    });
    setSession({ token: "tok", customer: { id: "c1", name: "Ana Souza", email: "ana@example.com" } });
    renderPage(<EventPage eventId="e1" />);
    fireEvent.click(await screen.findByLabelText(/^VIP/));
    fireEvent.click(await screen.findByText("Buy now in one step"));
    fireEvent.change(screen.getByLabelText("Card number"), { target: { value: "4242 4242 4242 4242" } });
    fireEvent.click(screen.getByRole("button", { name: "Buy 1 ticket now" }));
    expect(await screen.findByText(/Order received/)).toBeTruthy();
    const post = calls.find((c) => c.method === "POST" && c.url === "/api/orders")!;
    expect(post.body).toEqual({ event_id: "e1", quantity: 1, payment_method: "pm_4242", ticket_type: "VIP" });
  });

  it("show a seated type's own seats when the event also has a general type", async () => {
    const hold = { id: "h1", event_id: "e1", status: "active", expires_at: "2030-01-01T00:05:00Z", seconds_left: 300,
      tickets: [], total_cents: 20000 };
    const cadeira = type("Cadeira", { kind: "seated", price_cents: 20000, capacity: 2, available: 2 });
    const { calls } = fakeFetch({
      "POST /api/ws-tickets": { status: 201, body: { ticket: "tk", expires_in_s: 30 } },
      "GET /api/events/e1": { body: { ...EVENT, ticket_types: [type("Pista"), cadeira] } },
      "GET /api/events/e1/seats": {
        body: {
          event_id: "e1",
          version: 1,
          sections: [{ name: "Cadeira", price_cents: 20000, rows: [{ label: "A", numbers: [1, 2], ids: ["s1", "s2"], status: "aa" }] }],
        },
      },
      "GET /api/customers/c1": { body: { id: "c1", name: "Ana Souza", email: "ana@example.com", purchases: [] } },
      "POST /api/events/e1/holds": { status: 201, body: hold },
    });
    setSession({ token: "tok", customer: { id: "c1", name: "Ana Souza", email: "ana@example.com" } });
    renderPage(<EventPage eventId="e1" />);
    expect(((await screen.findByLabelText(/^Pista/)) as HTMLInputElement).checked).toBe(true);
    expect(screen.queryByRole("button", { name: /row A, seat 1/ })).toBeNull(); // Pista: by quantity
    fireEvent.click(screen.getByLabelText(/^Cadeira/));
    fireEvent.click(await screen.findByRole("button", { name: /Cadeira, row A, seat 2/ }));
    fireEvent.click(screen.getByRole("button", { name: "Hold 1 seat" }));
    await waitFor(() => expect(calls.some((c) => c.method === "POST" && c.url.endsWith("/holds"))).toBe(true));
    const post = calls.find((c) => c.method === "POST" && c.url.endsWith("/holds"))!;
    expect(post.body).toEqual({ seat_ids: ["s2"], ticket_type: "Cadeira" });
  });
});
