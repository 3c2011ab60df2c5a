import { act, fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { EventPage } from "../pages/EventPage";
import { WaitingRoomPage } from "../pages/WaitingRoomPage";
import { setSession } from "../lib/storage";
import { FakeWebSocket, fakeFetch } from "../test/fakes";
import { anEvent } from "../test/events";
import { renderPage } from "../test/render";

const SOLD_OUT = anEvent({
  live: { capacity: 100, sold: 100, held: 0, available: 0, status: "sold_out" },
});

const ENTRY = {
  id: "w1",
  event_id: "e1",
  status: "waiting",
  position: 3,
  email: "ana@example.com",
  ticket_type: null,
  quantity: 2,
  offered_quantity: null,
  offered_at: null,
  offer_expires_at: null,
  seconds_left: 0,
  created_at: "2030-01-01T00:00:00Z",
  entry_token: "entry-secret",
  offer_token: null,
  checkout_url: null,
};

function offerToken(expSeconds: number): string {
  const payload = btoa(JSON.stringify({ sub: "w1", aud: "e1", typ: "waitlist_offer", exp: expSeconds }))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
  return `eyJhbGciOiJIUzI1NiJ9.${payload}.sig`;
}

describe("Waitlist", () => {
  it("joins a sold-out event's waitlist and shows the place in line", async () => {
    const { calls } = fakeFetch({
      "GET /api/events/e1": { body: SOLD_OUT },
      "POST /api/events/e1/waitlist": { status: 201, body: ENTRY },
      "GET /api/events/e1/waitlist/me": { body: ENTRY },
    });
    renderPage(<EventPage eventId="e1" />);
    expect(await screen.findByRole("heading", { name: "Sold out" })).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Email for the waitlist"), { target: { value: "ana@example.com" } });
    fireEvent.change(screen.getByLabelText("Tickets wanted"), { target: { value: "2" } });
    fireEvent.click(screen.getByRole("button", { name: "Join the waitlist" }));
    expect((await screen.findByTestId("waitlist-position")).textContent).toBe("You are 3rd in line");
    const join = calls.find((c) => c.method === "POST" && c.url.endsWith("/waitlist"))!;
    expect(join.body).toEqual({ email: "ana@example.com", quantity: 2 });
    expect(localStorage.getItem("crowdpass.waitlist.e1")).toBe("entry-secret");
  });

  it("shows the banner when called, and the offer's link holds with the offer as admission", async () => {
    setSession({ token: "tok", customer: { id: "c1", name: "Ana Souza", email: "ana@example.com" } });
    const token = offerToken(Math.floor(Date.now() / 1000) + 300);
    const offered = {
      ...ENTRY,
      status: "offered",
      position: null,
      offered_quantity: 1,
      offered_at: new Date().toISOString(),
      offer_expires_at: new Date(Date.now() + 300_000).toISOString(),
      seconds_left: 300,
      offer_token: token,
      checkout_url: `http://x/events/e1?offer=${token}`,
    };
    const { calls } = fakeFetch({
      "GET /api/events/e1": { body: SOLD_OUT },
      "GET /api/events/e1/waitlist/me": { body: offered },
      "GET /api/customers/c1": { body: { id: "c1", name: "Ana Souza", email: "ana@example.com", purchases: [] } },
      "POST /api/events/e1/holds": { status: 201, body: { id: "h1" } },
    });
    renderPage(<EventPage eventId="e1" />);
    expect(await screen.findByText("A ticket came back for you")).toBeTruthy();
    expect(screen.getByTestId("offer-countdown").textContent).toMatch(/^[45]:\d\d$/);
    fireEvent.click(screen.getByRole("button", { name: "Buy it now" }));
    expect(await screen.findByRole("heading", { name: "Your turn from the waitlist" })).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Buy 1 ticket" }));
    await waitFor(() => expect(calls.some((c) => c.method === "POST" && c.url.endsWith("/holds"))).toBe(true));
    const hold = calls.find((c) => c.method === "POST" && c.url.endsWith("/holds"))!;
    expect(hold.headers["Admission-Token"]).toBe(token);
    expect(hold.body).toEqual({ quantity: 1 });
    await waitFor(() => expect(window.location.pathname).toBe("/checkout/h1"));
  });

  it("says when an offer's link has ended", async () => {
    window.history.replaceState(null, "", `/events/e1?offer=${offerToken(Math.floor(Date.now() / 1000) - 5)}`);
    fakeFetch({ "GET /api/events/e1": { body: SOLD_OUT } });
    renderPage(<EventPage eventId="e1" />);
    expect(await screen.findByRole("heading", { name: "This offer has ended" })).toBeTruthy();
  });

  it("hears the call of a signed-in buyer on /api/ws, without polling while the socket is open", async () => {
    setSession({ token: "tok", customer: { id: "c1", name: "Ana Souza", email: "ana@example.com" } });
    const { calls } = fakeFetch({
      ...wsTickets(),
      "GET /api/events/e1": { body: SOLD_OUT },
      "GET /api/events/e1/waitlist/me": { body: ENTRY },
      "GET /api/customers/c1": { body: { id: "c1", name: "Ana Souza", email: "ana@example.com", purchases: [] } },
    });
    renderPage(<EventPage eventId="e1" />);
    expect((await screen.findByTestId("waitlist-position")).textContent).toBe("You are 3rd in line");
    const ws = await socketOf("/api/ws?ticket=tk-tok-");
    act(() => ws.open());
    const reads = calls.filter((c) => c.url.endsWith("/waitlist/me")).length;
    const message = offerMessage();
    act(() => ws.receive({ ...message, event_id: "e2" })); // another event's offer: not ours
    expect(screen.queryByText("A ticket came back for you")).toBeNull();
    act(() => ws.receive(message));
    expect(await screen.findByText("A ticket came back for you")).toBeTruthy();
    expect(screen.getByTestId("offer-countdown").textContent).toMatch(/^[45]:\d\d$/);
    expect(calls.filter((c) => c.url.endsWith("/waitlist/me")).length).toBe(reads); // from the socket alone
    fireEvent.click(screen.getByRole("button", { name: "Buy it now" }));
    expect(await screen.findByRole("heading", { name: "Your turn from the waitlist" })).toBeTruthy();
    expect(new URLSearchParams(window.location.search).get("offer")).toBe(message.offer_token);
  });

  it("reads the entry every 10 s only while the socket is down", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    setSession({ token: "tok", customer: { id: "c1", name: "Ana Souza", email: "ana@example.com" } });
    const token = offerToken(Math.floor(Date.now() / 1000) + 300);
    let reads = 0;
    let called = false; // the offer was made (while the socket is down)
    const { calls } = fakeFetch({
      ...wsTickets(),
      "GET /api/events/e1": { body: SOLD_OUT },
      "GET /api/events/e1/waitlist/me": () => {
        reads += 1;
        if (!called) return { body: ENTRY };
        const ends = new Date(Date.now() + 300_000).toISOString();
        return { body: { ...ENTRY, status: "offered", position: null, offered_quantity: 1, offer_expires_at: ends, offer_token: token } };
      },
      "GET /api/customers/c1": { body: { id: "c1", name: "Ana Souza", email: "ana@example.com", purchases: [] } },
    });
    renderPage(<EventPage eventId="e1" />);
    await screen.findByTestId("waitlist-position");
    const ws = await socketOf("/api/ws?ticket=tk-tok-");
    act(() => ws.open());
    const before = reads;
    await act(async () => {
      await vi.advanceTimersByTimeAsync(25_000);
    });
    expect(reads).toBe(before); // the socket is open: nobody asks
    called = true;
    act(() => ws.drop());
    await act(async () => {
      await vi.advanceTimersByTimeAsync(10_500);
    });
    expect(reads).toBeGreaterThan(before); // down: the fallback reads the entry, and finds the call
    expect(await screen.findByText("A ticket came back for you")).toBeTruthy();
    expect(calls.filter((c) => c.url.endsWith("/waitlist/me")).length).toBe(reads);
  });

  it("reads the place in line once a minute while the socket is open", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    setSession({ token: "tok", customer: { id: "c1", name: "Ana Souza", email: "ana@example.com" } });
    let position = 3;
    fakeFetch({
      ...wsTickets(),
      "GET /api/events/e1": { body: SOLD_OUT },
      "GET /api/events/e1/waitlist/me": () => ({ body: { ...ENTRY, position } }),
      "GET /api/customers/c1": { body: { id: "c1", name: "Ana Souza", email: "ana@example.com", purchases: [] } },
    });
    renderPage(<EventPage eventId="e1" />);
    expect((await screen.findByTestId("waitlist-position")).textContent).toBe("You are 3rd in line");
    const ws = await socketOf("/api/ws?ticket=tk-tok-");
    act(() => ws.open());
    position = 1; // the two ahead were served
    await act(async () => {
      await vi.advanceTimersByTimeAsync(30_000);
    });
    expect(screen.getByTestId("waitlist-position").textContent).toBe("You are 3rd in line"); // not yet
    await act(async () => {
      await vi.advanceTimersByTimeAsync(31_000);
    });
    expect(screen.getByTestId("waitlist-position").textContent).toBe("You are next in line");
  });

  it("calls an anonymous visitor on the waiting room's sold-out page through the queue socket", async () => {
    const ROOM = { ...SOLD_OUT, waiting_room: { ...SOLD_OUT.waiting_room, enabled: true } };
    const { calls } = fakeFetch({
      ...wsTickets(),
      "GET /api/events/e1": { body: ROOM },
      "POST /api/events/e1/queue": {
        body: { status: "sold_out", position: null, eta_s: null, state: "sold_out", visitor_token: "vis.tok.en" },
      },
      "POST /api/events/e1/waitlist": { status: 201, body: ENTRY },
      "GET /api/events/e1/waitlist/me": { body: ENTRY },
    });
    renderPage(<WaitingRoomPage eventId="e1" />);
    expect(await screen.findByRole("heading", { name: "Sold out" })).toBeTruthy();
    expect(await screen.findByText(/by email and on this page/)).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Email for the waitlist"), { target: { value: "ana@example.com" } });
    fireEvent.click(screen.getByRole("button", { name: "Join the waitlist" }));
    expect((await screen.findByTestId("waitlist-position")).textContent).toBe("You are 3rd in line");
    const join = calls.find((c) => c.method === "POST" && c.url.endsWith("/waitlist"))!;
    expect(join.headers.Authorization).toBe("Bearer vis.tok.en"); // the entry names the visitor
    const ws = await socketOf("/api/events/e1/queue/ws?ticket=tk-vis.tok.en-");
    act(() => ws.open());
    const message = offerMessage();
    act(() => ws.receive(message));
    expect(await screen.findByText("A ticket came back for you")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Buy it now" }));
    await waitFor(() => expect(window.location.pathname).toBe("/events/e1"));
    expect(new URLSearchParams(window.location.search).get("offer")).toBe(message.offer_token);
  });
});

let ticketCount = 0;

/** `POST /api/ws-tickets`: a ticket named after the token it was asked with (`tk-<token>-<n>`). */
function wsTickets() {
  return {
    "POST /api/ws-tickets": (call: { headers: Record<string, string> }) => {
      const token = (call.headers.Authorization ?? "").replace(/^Bearer /, "");
      return { status: token ? 201 : 401, body: { ticket: `tk-${token}-${++ticketCount}`, expires_in_s: 30 } };
    },
  };
}

function socketOf(part: string): Promise<FakeWebSocket> {
  return waitFor(() => {
    const ws = FakeWebSocket.instances.find((w) => w.url.includes(part));
    if (!ws) throw new Error(`no socket ${part}`);
    return ws;
  });
}

function offerMessage() {
  const token = offerToken(Math.floor(Date.now() / 1000) + 300);
  return {
    type: "waitlist_offer",
    event_id: "e1",
    entry_id: "w1",
    offered_quantity: 1,
    offer_expires_at: new Date(Date.now() + 300_000).toISOString(),
    offer_token: token,
    checkout_url: `http://x/events/e1?offer=${token}`,
  };
}
