import { describe, expect, it, vi } from "vitest";
import { renderHook } from "@testing-library/react";
import { ApiError, friendlyMessage, request } from "../api/client";
import { normalizeEvent } from "../api/endpoints";
import type { EventOut } from "../api/types";
import { FakeWebSocket, fakeFetch } from "../test/fakes";
import { DraftError, draftToBody, EMPTY_DRAFT } from "./eventForm";
import { filterEvents, filterQuery, purchaseLimit, ticketsOwned } from "./events";
import { extensionOffer, mergeHold } from "./holds";
import { useCountdown } from "./hooks";
import { orderFromMessage, orderOutcome } from "./orders";
import { cancelPolicyText, formatClock, formatDuration, formatEta, seatLabel } from "./format";
import { LiveSocket, ticketUrl } from "./live";
import { legacyHashPath, redirectLegacyHash, section } from "./router";
import { applySeatDelta, expandSeatMap } from "./seats";
import { leadingZeroBits, sha256, sha256Hex, solveChallenge } from "./sha256";
import { firstPosition, paymentKey } from "./storage";

describe("format", () => {
  it("prints countdowns as a clock", () => {
    expect(formatClock(0)).toBe("0:00");
    expect(formatClock(9)).toBe("0:09");
    expect(formatClock(247)).toBe("4:07");
    expect(formatClock(3 * 3600 + 5 * 60 + 9)).toBe("3:05:09");
    expect(formatClock(-4)).toBe("0:00");
  });

  it("prints estimates in words", () => {
    expect(formatEta(20)).toBe("less than a minute");
    expect(formatEta(185)).toBe("about 3 minutes");
    expect(formatEta(null)).toBe("calculating…");
  });

  it("states the cancel policy", () => {
    expect(cancelPolicyText(null, 500, false)).toBe("Tickets cannot be cancelled by buyers.");
    expect(cancelPolicyText("2031-05-30T12:00:00Z", 500, true)).toMatch(/^Cancel until .*2031.* \(a fee of R\$5\.00 is kept\)\.$/);
    expect(cancelPolicyText("2031-05-30T12:00:00Z", 0, true)).toMatch(/\(no fee\)\.$/);
    expect(cancelPolicyText("2020-01-01T00:00:00Z", 500, false)).toMatch(/^Cancelling closed on .*2020/);
  });

  it("labels seats and general admission", () => {
    expect(seatLabel({ section: "Pista", row: "B", number: 12 })).toBe("Pista · row B · seat 12");
    expect(seatLabel({ section: null, row: null, number: null })).toBe("General admission");
  });
});

describe("router", () => {
  it("sends old fragment links to their real paths", () => {
    expect(legacyHashPath("#/events/abc")).toBe("/events/abc");
    expect(legacyHashPath("#/events/abc/queue")).toBe("/events/abc/queue");
    expect(legacyHashPath("#/checkout/h1")).toBe("/checkout/h1");
    expect(legacyHashPath("#/feed?x=1")).toBe("/feed?x=1");
    expect(legacyHashPath("#/me")).toBe("/tickets");
    expect(legacyHashPath("#main")).toBeNull();
    expect(legacyHashPath("")).toBeNull();
  });

  it("rewrites the address before the router reads it", () => {
    window.history.replaceState(null, "", "/#/events/e9/queue");
    redirectLegacyHash();
    expect(window.location.pathname).toBe("/events/e9/queue");
    expect(window.location.hash).toBe("");
  });

  it("names the menu entry of a path", () => {
    expect(section("/")).toBe("events");
    expect(section("/events/e1/queue")).toBe("events");
    expect(section("/checkout/h1")).toBe("events");
    expect(section("/tickets")).toBe("tickets");
    expect(section("/organizer/events/e1")).toBe("organizer");
  });
});

describe("api client", () => {
  it("turns an error body into an ApiError with code and field", async () => {
    fakeFetch({ "POST /api/x": { status: 409, body: { error: "sold_out", detail: "gone" } } });
    const err = await request("POST", "/api/x", { body: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe("sold_out");
    expect(friendlyMessage(err)).toMatch(/Sold out/);
  });

  it("reports a network failure as retryable", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => Promise.reject(new TypeError("Failed to fetch"))));
    const err = (await request("GET", "/api/x").catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(0);
    expect(err.retryable).toBe(true);
    expect(friendlyMessage(err)).toMatch(/could not reach/);
  });

  it("flattens the live counters of an event", () => {
    const e = normalizeEvent({
      id: "1",
      name: "A",
      starts_at: "2030-01-01T00:00:00Z",
      capacity: 10,
      live: { capacity: 10, sold: 3, held: 2, available: 5, status: "on_sale" },
    });
    expect(e).toMatchObject({ sold: 3, held: 2, available: 5, status: "on_sale", capacity: 10 });
  });
});

describe("storage", () => {
  it("keeps one payment key per hold and card, across calls", () => {
    const a = paymentKey("h1", "4242424242424242");
    expect(paymentKey("h1", "4242424242424242")).toBe(a);
    expect(paymentKey("h1", "4000000000000002")).not.toBe(a);
    expect(paymentKey("h2", "4242424242424242")).not.toBe(a);
    expect(JSON.stringify(localStorage)).not.toContain("4242424242424242");
  });

  it("remembers the first position for the progress bar", () => {
    expect(firstPosition("e", 50)).toBe(50);
    expect(firstPosition("e", 20)).toBe(50);
    expect(firstPosition("e", 80)).toBe(80);
  });
});

describe("event form", () => {
  it("builds a general-admission body in cents and UTC", () => {
    const body = draftToBody({ ...EMPTY_DRAFT, name: " Rock ", startsAt: "2030-05-01T20:00", price: "49.90", capacity: "100" });
    expect(body).toMatchObject({ name: "Rock", price_cents: 4990, capacity: 100, hold_ttl_s: 300 });
    expect(body.starts_at).toBe(new Date("2030-05-01T20:00").toISOString());
    expect(body.sections).toBeUndefined();
  });

  it("builds a seated body and names the field at fault", () => {
    const seated = { ...EMPTY_DRAFT, name: "Jazz", startsAt: "2030-05-01T20:00", kind: "seated" as const };
    expect(() => draftToBody(seated)).toThrow(DraftError);
    const body = draftToBody({ ...seated, sections: [{ name: "A", price: "10", rows: "2", seatsPerRow: "3" }] });
    expect(body.sections).toEqual([{ name: "A", price_cents: 1000, rows: 2, seats_per_row: 3 }]);
    try {
      draftToBody({ ...seated, sections: [{ name: "A", price: "x", rows: "2", seatsPerRow: "3" }] });
    } catch (e) {
      expect((e as DraftError).field).toBe("section-0-price");
    }
  });
});

describe("event list", () => {
  const ev = (id: string, status: EventOut["status"], starts: string): EventOut => ({
    id,
    name: id,
    starts_at: starts,
    capacity: 10,
    sold: 0,
    held: 0,
    available: 10,
    status,
  });

  it("filters by status and local dates, on-sale first", () => {
    const list = [
      ev("late", "on_sale", "2030-03-10T20:00:00"),
      ev("soon", "scheduled", "2030-03-01T20:00:00"),
      ev("gone", "sold_out", "2030-03-05T20:00:00"),
      ev("early", "on_sale", "2030-03-02T20:00:00"),
    ];
    expect(filterEvents(list, { status: "all", from: "", to: "" }).map((e) => e.id)).toEqual(["early", "late", "soon", "gone"]);
    expect(filterEvents(list, { status: "on_sale", from: "", to: "" }).map((e) => e.id)).toEqual(["early", "late"]);
    expect(filterEvents(list, { status: "all", from: "2030-03-02", to: "2030-03-05" }).map((e) => e.id)).toEqual([
      "early",
      "gone",
    ]);
    expect(filterQuery({ status: "sold_out", from: "2030-03-02", to: "" })).toEqual({
      status: "sold_out",
      from: new Date("2030-03-02T00:00:00").toISOString(),
      to: undefined,
    });
  });
});

describe("sha256", () => {
  it("matches the standard test vectors", () => {
    expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex("a".repeat(1000))).toBe("41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
  });

  it("solves a join challenge to the asked difficulty", async () => {
    const nonce = await solveChallenge("1700000000.10.abc.def", 10);
    expect(leadingZeroBits(sha256(`1700000000.10.abc.def${nonce}`))).toBeGreaterThanOrEqual(10);
  });
});

describe("LiveSocket", () => {
  it("reconnects with growing delays and reports each reconnection", () => {
    vi.useFakeTimers();
    const opens: boolean[] = [];
    const got: unknown[] = [];
    const s = new LiveSocket("ws://x/live", {
      onMessage: (d) => got.push(d),
      onOpen: (r) => opens.push(r),
      WebSocketImpl: FakeWebSocket as unknown as typeof WebSocket,
    });
    s.start();
    FakeWebSocket.instances[0]!.open();
    FakeWebSocket.instances[0]!.receive({ type: "stock", sold: 1 });
    expect(got).toEqual([{ type: "stock", sold: 1 }]);
    FakeWebSocket.instances[0]!.drop();
    expect(s.state).toBe("reconnecting");
    vi.advanceTimersByTime(LiveSocket.delay(1, 500, 10_000, () => 1) + 1);
    expect(FakeWebSocket.instances).toHaveLength(2);
    FakeWebSocket.instances[1]!.drop(); // fails again: waits longer
    vi.advanceTimersByTime(700);
    expect(FakeWebSocket.instances).toHaveLength(2);
    vi.advanceTimersByTime(1000);
    expect(FakeWebSocket.instances).toHaveLength(3);
    FakeWebSocket.instances[2]!.open();
    expect(opens).toEqual([false, true]);
    s.stop();
    expect(s.state).toBe("stopped");
  });

  it("opens every connection with a fresh one-use ticket, never with the token", async () => {
    vi.useFakeTimers();
    const { calls } = fakeFetch({
      "POST /api/ws-tickets": [
        { status: 201, body: { ticket: "t1", expires_in_s: 30 } },
        { status: 201, body: { ticket: "t2", expires_in_s: 30 } },
      ],
    });
    const s = new LiveSocket(() => ticketUrl("/api/ws", { token: "secret-token" }), {
      onMessage: () => undefined,
      WebSocketImpl: FakeWebSocket as unknown as typeof WebSocket,
    });
    s.start();
    await vi.waitFor(() => expect(FakeWebSocket.instances).toHaveLength(1));
    FakeWebSocket.instances[0]!.open();
    FakeWebSocket.instances[0]!.drop();
    await vi.advanceTimersByTimeAsync(LiveSocket.delay(1, 500, 10_000, () => 1) + 1);
    await vi.waitFor(() => expect(FakeWebSocket.instances).toHaveLength(2));
    expect(FakeWebSocket.instances.map((w) => w.url.replace(/^wss?:\/\/[^/]+/, ""))).toEqual([
      "/api/ws?ticket=t1",
      "/api/ws?ticket=t2",
    ]);
    expect(FakeWebSocket.instances.some((w) => w.url.includes("secret-token"))).toBe(false);
    expect(calls.map((c) => c.headers.Authorization)).toEqual(["Bearer secret-token", "Bearer secret-token"]);
    s.stop();
  });

  it("treats a refused ticket as the socket's own refusal", async () => {
    fakeFetch({ "POST /api/ws-tickets": { status: 401, body: { error: "unauthorized", detail: "expired" } } });
    const codes: number[] = [];
    const s = new LiveSocket(() => ticketUrl("/api/ws", { token: "old" }), {
      onMessage: () => undefined,
      onClose: (code) => {
        codes.push(code);
        return false;
      },
      WebSocketImpl: FakeWebSocket as unknown as typeof WebSocket,
    });
    s.start();
    await vi.waitFor(() => expect(s.state).toBe("stopped"));
    expect(codes).toEqual([4401]);
    expect(FakeWebSocket.instances).toHaveLength(0);
  });

  it("stops when the close code says retrying cannot help", () => {
    vi.useFakeTimers();
    const s = new LiveSocket("ws://x/q", {
      onMessage: () => {},
      onClose: (code) => code !== 4401,
      WebSocketImpl: FakeWebSocket as unknown as typeof WebSocket,
    });
    s.start();
    FakeWebSocket.instances[0]!.drop(4401);
    vi.advanceTimersByTime(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(s.state).toBe("stopped");
  });

  it("caps the delay", () => {
    expect(LiveSocket.delay(1, 500, 10_000, () => 0.5)).toBe(500);
    expect(LiveSocket.delay(3, 500, 10_000, () => 0.5)).toBe(2000);
    expect(LiveSocket.delay(30, 500, 10_000, () => 0.5)).toBe(10_000);
  });
});

describe("feed", () => {
  it("shows a purchase of several tickets as one row", async () => {
    const { groupFeed } = await import("./events");
    const at = "2030-01-01T10:00:00.000Z";
    const rows = groupFeed([
      { buyer: "Ana S.", event_id: "e1", at },
      { buyer: "Ana S.", event_id: "e1", at: "2030-01-01T10:00:00.300Z" },
      { buyer: "Ana S.", event_id: "e2", at },
      { buyer: "Rui P.", event_id: "e2", at },
    ]);
    expect(rows.map((r) => [r.buyer, r.event_id, r.quantity ?? 1])).toEqual([
      ["Ana S.", "e1", 2],
      ["Ana S.", "e2", 1],
      ["Rui P.", "e2", 1],
    ]);
  });
});

describe("purchase limit", () => {
  it("offers what is left of the per-person limit, never more than is available", () => {
    expect(purchaseLimit(4, 2, 100)).toEqual({ left: 2, choices: [1, 2] });
    expect(purchaseLimit(4, 0, 3)).toEqual({ left: 4, choices: [1, 2, 3] });
    expect(purchaseLimit(4, 4, 100)).toEqual({ left: 0, choices: [] });
    expect(purchaseLimit(1, 0, undefined)).toEqual({ left: 1, choices: [1] });
  });

  it("counts the buyer's tickets of this event, not refunded ones", () => {
    const p = (event_id: string, status = "confirmed") => ({ id: Math.random().toString(), event_id, status });
    expect(ticketsOwned([p("e1"), p("e1"), p("e2"), p("e1", "refunded")], "e1")).toBe(2);
    expect(ticketsOwned([{ id: "x", event: { id: "e1", name: "A" } }], "e1")).toBe(1);
  });
});

describe("formatDuration", () => {
  it("says durations as people do", () => {
    expect(formatDuration(300.054)).toBe("5 min");
    expect(formatDuration(312)).toBe("5 min 12 s");
    expect(formatDuration(0.2)).toBe("200 ms");
    expect(formatDuration(4.24)).toBe("4.2 s");
    expect(formatDuration(42)).toBe("42 s");
    expect(formatDuration(7500)).toBe("2 h 5 min");
    expect(formatDuration(90_000)).toBe("1 d 1 h");
    expect(formatDuration(null)).toBe("—");
  });
});

describe("one-step orders", () => {
  it("says what a decided order means", () => {
    expect(orderOutcome({ status: "queued", quantity: 2 })).toEqual({ kind: "waiting" });
    expect(orderOutcome({ status: "confirmed", quantity: 2, total_cents: 10000 })).toEqual({
      kind: "confirmed",
      tickets: 2,
      totalCents: 10000,
    });
    expect(orderOutcome({ status: "rejected", quantity: 1, reason: "payment_declined" })).toMatchObject({
      kind: "rejected",
      retry: true,
    });
    expect(orderOutcome({ status: "rejected", quantity: 1, reason: "sold_out" })).toMatchObject({ retry: false });
  });

  it("picks its own order out of the account socket", () => {
    const order = { id: "o1", status: "confirmed", event_id: "e1", quantity: 1 };
    expect(orderFromMessage({ type: "order", order }, "o1")).toEqual(order);
    expect(orderFromMessage({ type: "order", order }, "o2")).toBeNull();
    expect(orderFromMessage({ type: "hold", hold: {} }, "o1")).toBeNull();
  });
});

describe("hold extension", () => {
  const hold = { status: "active" as const, extended_at: null, extension_s: 300 };
  it("is offered once, in the last minute, while the hold is active", () => {
    expect(extensionOffer(hold, 61)).toBe(0);
    expect(extensionOffer(hold, 60)).toBe(300);
    expect(extensionOffer(hold, 0)).toBe(0);
    expect(extensionOffer({ ...hold, extended_at: "2030-01-01T00:00:00Z" }, 30)).toBe(0);
    expect(extensionOffer({ ...hold, extension_s: 0 }, 30)).toBe(0);
    expect(extensionOffer({ ...hold, status: "expired" }, 30)).toBe(0);
    expect(extensionOffer({ ...hold, extension_s: null }, 30)).toBe(0);
  });

  it("keeps what an extension would add when a pushed hold leaves it out", () => {
    const base = { id: "h1", event_id: "e1", status: "active" as const, expires_at: "x", seconds_left: 9, tickets: [], total_cents: 0 };
    expect(mergeHold({ ...base, extension_s: 300 }, { ...base, extension_s: null }).extension_s).toBe(300);
    expect(mergeHold({ ...base, extension_s: 300 }, { ...base, extension_s: 0 }).extension_s).toBe(0);
  });
});

describe("event form: hold extension", () => {
  const base = { ...EMPTY_DRAFT, name: "Rock", startsAt: "2030-05-01T20:00", price: "10", capacity: "5" };
  it("sends the extension only when the organizer sets one", () => {
    expect(draftToBody(base)).not.toHaveProperty("hold_extension_s");
    expect(draftToBody({ ...base, holdExtension: "0" }).hold_extension_s).toBe(0);
    expect(draftToBody({ ...base, holdExtension: "120" }).hold_extension_s).toBe(120);
    expect(() => draftToBody({ ...base, holdExtension: "4000" })).toThrow(DraftError);
  });
});

describe("seat map", () => {
  const map = expandSeatMap({
    event_id: "e1",
    version: 7,
    sections: [
      { name: "VIP", price_cents: 9000, rows: [{ label: "A", numbers: [1, 2, 3], ids: ["s1", "s2", "s3"], status: "ahs" }] },
      { name: "Pista", price_cents: 4000, rows: [{ label: "B", numbers: [5], ids: ["s4"], status: "a" }] },
    ],
  });

  it("expands the compact map into seats", () => {
    expect(map.version).toBe(7);
    expect(map.seats.map((s) => [s.id, s.section, s.row, s.number, s.price_cents, s.status])).toEqual([
      ["s1", "VIP", "A", 1, 9000, "available"],
      ["s2", "VIP", "A", 2, 9000, "held"],
      ["s3", "VIP", "A", 3, 9000, "sold"],
      ["s4", "Pista", "B", 5, 4000, "available"],
    ]);
  });

  it("applies a delta from its version, ignores an old one and asks to reload on a gap", () => {
    const next = applySeatDelta(map, { type: "seats", since: 7, version: 9, changes: [{ id: "s1", status: "held" }] });
    expect(next).not.toBe("reload");
    const state = next as typeof map;
    expect(state.version).toBe(9);
    expect(state.seats[0]!.status).toBe("held");
    expect(state.seats[3]).toBe(map.seats[3]); // untouched seats keep their identity
    expect(applySeatDelta(state, { type: "seats", since: 7, version: 9, changes: [] })).toBe(state);
    expect(applySeatDelta(state, { type: "seats", since: 11, version: 12, changes: [] })).toBe("reload");
    expect(applySeatDelta(state, { type: "seats", since: 0, version: 12, changes: [] })).toBe("reload");
  });
});

describe("useCountdown", () => {
  it("shows the server's seconds exactly, whatever the monotonic clock's fraction", () => {
    // (t + 120000) - t is 120000.00000001 for this t: ceil of that showed 2:01.
    const receivedAt = 406329.39546632784;
    const now = vi.spyOn(performance, "now").mockReturnValue(receivedAt);
    try {
      const { result } = renderHook(() => useCountdown(120, receivedAt));
      expect(result.current).toBe(120);
    } finally {
      now.mockRestore();
    }
  });
});
