// Event helpers shared by the list, the event page and tests.
import type { EventOut, EventStatus, FeedItem, Purchase } from "../api/types";

export function lowestPrice(event: EventOut): number | undefined {
  const prices = (event.sections ?? []).map((s) => s.price_cents);
  if (typeof event.price_cents === "number" && !prices.length) return event.price_cents;
  return prices.length ? Math.min(...prices) : event.price_cents;
}

export function isSeated(event: EventOut): boolean {
  // An event whose ticket types are all general admission sells by quantity, not by seat.
  if (event.ticket_types?.length) return event.ticket_types.some((t) => t.kind === "seated");
  if (typeof event.seated === "boolean") return event.seated;
  return (event.sections ?? []).some((s) => (s.rows ?? 0) > 0 && (s.seats_per_row ?? 0) > 0);
}

export function hasWaitingRoom(event: EventOut): boolean {
  return Boolean(event.waiting_room?.enabled);
}

export interface EventFilter {
  status: EventStatus | "all";
  from: string; // yyyy-mm-dd, local, or ""
  to: string;
}

export const NO_FILTER: EventFilter = { status: "all", from: "", to: "" };

function localDay(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function filterEvents(events: EventOut[], f: EventFilter): EventOut[] {
  return events
    .filter((e) => f.status === "all" || e.status === f.status)
    .filter((e) => {
      const day = localDay(e.starts_at);
      if (f.from && day < f.from) return false;
      if (f.to && day > f.to) return false;
      return true;
    })
    .sort((a, b) => {
      // What can be bought now first, then by date.
      const rank = (s: EventStatus) => (s === "on_sale" ? 0 : s === "scheduled" ? 1 : s === "sold_out" ? 2 : 3);
      return rank(a.status) - rank(b.status) || Date.parse(a.starts_at) - Date.parse(b.starts_at);
    });
}

/** Whether a ticket type's own sale window (docs/ticket-types.md) is open at `now` (ms). */
export function typeWindowOpen(t: { sales_open_at: string | null; sales_close_at: string | null }, now: number): boolean {
  if (t.sales_open_at && Date.parse(t.sales_open_at) > now) return false;
  return !t.sales_close_at || now < Date.parse(t.sales_close_at);
}

export function applyStock<T extends EventOut>(
  event: T,
  stock: {
    sold: number;
    held: number;
    available: number;
    status: EventStatus;
    types?: { name: string; sold: number; held: number; available: number }[];
  },
): T {
  const next = { ...event, sold: stock.sold, held: stock.held, available: stock.available, status: stock.status };
  if (stock.types && event.ticket_types) {
    const counts = new Map(stock.types.map((t) => [t.name, t]));
    next.ticket_types = event.ticket_types.map((t) => {
      const c = counts.get(t.name);
      if (!c) return t;
      // On sale: the event sells, the type's own window is open, and tickets are left (they come back too).
      const selling = stock.status === "on_sale" || stock.status === "sold_out";
      const on_sale = selling && typeWindowOpen(t, Date.now()) && c.available > 0;
      return { ...t, sold: c.sold, held: c.held, available: c.available, on_sale };
    });
  }
  return next;
}

/** The list's query for the API: local calendar days become exact instants. */
export function filterQuery(f: EventFilter): { status?: string; from?: string; to?: string } {
  const at = (local: string) => {
    const d = new Date(local);
    return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
  };
  return {
    status: f.status === "all" ? undefined : f.status,
    from: f.from ? at(`${f.from}T00:00:00`) : undefined,
    to: f.to ? at(`${f.to}T23:59:59.999`) : undefined,
  };
}

/** One feed row per purchase of several tickets: the API lists each ticket on its own. */
export function groupFeed(items: FeedItem[], withinMs = 2000): FeedItem[] {
  const out: FeedItem[] = [];
  for (const item of items) {
    const last = out[out.length - 1];
    const eventOf = (i: FeedItem) => i.event?.id ?? i.event_id;
    if (
      last &&
      last.buyer === item.buyer &&
      eventOf(last) === eventOf(item) &&
      Math.abs(Date.parse(last.at) - Date.parse(item.at)) <= withinMs
    ) {
      out[out.length - 1] = { ...last, quantity: (last.quantity ?? 1) + (item.quantity ?? 1) };
    } else {
      out.push(item);
    }
  }
  return out;
}

/** Tickets of `eventId` the buyer owns (refunded ones do not count towards the limit). */
export function ticketsOwned(purchases: readonly Purchase[], eventId: string): number {
  return purchases.filter((p) => {
    const id = p.event?.id ?? p.event_id;
    const status = (p.status ?? "confirmed").toLowerCase();
    return id === eventId && status !== "refunded" && status !== "cancelled" && status !== "canceled";
  }).length;
}

/**
 * What one buyer may still take of an event: `left` (the per-person limit minus what they own)
 * and the quantities to offer (1…left, never more than the tickets available).
 */
export function purchaseLimit(max: number, owned: number, available?: number | null): { left: number; choices: number[] } {
  const left = Math.max(0, Math.max(1, max) - Math.max(0, owned));
  const cap = typeof available === "number" && available > 0 ? Math.min(left, available) : left;
  return { left, choices: Array.from({ length: cap }, (_, i) => i + 1) };
}
