import { fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { setSession } from "../lib/storage";
import { fakeFetch } from "../test/fakes";
import { anEvent } from "../test/events";
import { renderPage } from "../test/render";
import { EventPage } from "./EventPage";

const EVENT = anEvent({
  name: "Presale night",
  sales_open_at: "2030-08-01T12:00:00Z",
  live: { capacity: 100, sold: 0, held: 0, available: 100, status: "scheduled" },
});

const HOLD = {
  id: "h1",
  event_id: "e1",
  status: "active",
  expires_at: "2030-01-01T00:05:00Z",
  seconds_left: 120,
  tickets: [{ id: "t1", section: null, row: null, number: null, price_cents: 5000, half_price: false }],
  total_cents: 5000,
  code: "FANCLUB",
  discount_cents: 0,
};

const ws = { "POST /api/ws-tickets": { status: 201, body: { ticket: "tk", expires_in_s: 30 } } };

describe("EventPage with a code", () => {
  it("lets an access code hold before the sale opens, and sends the code with the hold", async () => {
    setSession({ token: "tok", customer: { id: "c1", name: "Ana Souza", email: "ana@example.com" } });
    const { calls } = fakeFetch({
      ...ws,
      "GET /api/events/e1": { body: EVENT },
      "GET /api/customers/c1": { body: { id: "c1", name: "Ana Souza", email: "ana@example.com", purchases: [] } },
      "GET /api/events/e1/codes/FANCLUB/check": {
        body: { code: "FANCLUB", kind: "access", percent_off: null, amount_off_cents: null, ticket_type: null, presale: true },
      },
      "POST /api/events/e1/holds": { status: 201, body: HOLD },
    });
    renderPage(<EventPage eventId="e1" />);
    const buy = await screen.findByRole("button", { name: "Buy 1 ticket" });
    expect((buy as HTMLButtonElement).disabled).toBe(true); // not on sale yet
    fireEvent.change(screen.getByLabelText("Have a code?"), { target: { value: "fanclub" } });
    fireEvent.click(screen.getByRole("button", { name: "Apply" }));
    expect((await screen.findByTestId("code-applied")).textContent).toMatch(/Presale access/);
    await waitFor(() => expect((buy as HTMLButtonElement).disabled).toBe(false));
    fireEvent.click(buy);
    await waitFor(() => expect(window.location.pathname).toBe("/checkout/h1"));
    const hold = calls.find((c) => c.method === "POST" && c.url.endsWith("/holds"))!;
    expect(hold.body).toEqual({ quantity: 1, code: "FANCLUB" });
  });

  it("shows the discounted total before holding", async () => {
    fakeFetch({
      ...ws,
      "GET /api/events/e1": { body: { ...EVENT, sales_open_at: null, live: { ...EVENT.live, status: "on_sale" } } },
      "GET /api/events/e1/codes/TEN/check": {
        body: { code: "TEN", kind: "discount", percent_off: 10, amount_off_cents: null, ticket_type: null, presale: false },
      },
    });
    renderPage(<EventPage eventId="e1" />);
    await screen.findByRole("button", { name: "Buy 1 ticket" });
    fireEvent.change(screen.getByLabelText("Have a code?"), { target: { value: "ten" } });
    fireEvent.click(screen.getByRole("button", { name: "Apply" }));
    await screen.findByTestId("code-applied");
    expect(screen.getByText(/^Total/).textContent).toMatch(/45[.,]00/);
  });
});
