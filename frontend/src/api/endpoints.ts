// One function per API call the web app makes (API.md §2).
import { expandSeatMap } from "../lib/seats";
import { asList, request } from "./client";
import type {
  CustomerDetail,
  EventOut,
  FeedItem,
  Hold,
  Order,
  OrderAccepted,
  PowChallenge,
  Purchase,
  QueueState,
  SeatMapCompact,
  Session,
  WaitingRoomPatch,
  WaitingRoomStats,
} from "./types";

const enc = encodeURIComponent;

/** How a queue call says who it is: a bearer token (customer or visitor) and maybe `Visitor-Token`. */
export interface QueueAuth {
  token?: string | null;
  headers?: Record<string, string>;
}

/** The API nests the live counters under `live`; pages read them at the top level. */
export function normalizeEvent(raw: unknown): EventOut {
  const e = (raw ?? {}) as EventOut & { live?: Partial<EventOut> };
  const live = e.live ?? {};
  return {
    ...e,
    capacity: live.capacity ?? e.capacity ?? 0,
    sold: live.sold ?? e.sold ?? 0,
    held: live.held ?? e.held ?? 0,
    available: live.available ?? e.available ?? 0,
    status: live.status ?? e.status ?? "scheduled",
  };
}

export interface EventQuery {
  status?: string;
  from?: string; // ISO 8601
  to?: string;
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const text = q.toString();
  return text ? `?${text}` : "";
}

export const api = {
  signUp: (body: { name: string; email: string; password: string }) =>
    request<Session>("POST", "/api/customers", { body }),
  logIn: (body: { email: string; password: string }) => request<Session>("POST", "/api/sessions", { body }),
  customer: (id: string, token: string) => request<CustomerDetail>("GET", `/api/customers/${enc(id)}`, { token }),

  events: async (signal?: AbortSignal, q: EventQuery = {}) =>
    asList<unknown>(
      await request<unknown>("GET", `/api/events${query({ status: q.status, from: q.from, to: q.to, limit: 200 })}`, {
        signal,
      }),
      "events",
    ).map(normalizeEvent),
  event: async (id: string, signal?: AbortSignal) =>
    normalizeEvent(await request<unknown>("GET", `/api/events/${enc(id)}`, { signal })),
  /** The compact seat map with its version (a few kB gzipped), kept live by `seats` deltas. */
  seatMap: async (id: string, signal?: AbortSignal) =>
    expandSeatMap(await request<SeatMapCompact>("GET", `/api/events/${enc(id)}/seats?format=compact`, { signal })),
  createEvent: async (body: unknown, adminToken: string) =>
    normalizeEvent(await request<unknown>("POST", "/api/events", { body, token: adminToken })),

  // The queue endpoints take a customer or a visitor token (or none, to join as a newcomer);
  // a customer also sends their visitor's token, so the place they queued in is theirs.
  joinQueue: (
    eventId: string,
    auth: QueueAuth,
    body?: { pow_challenge?: string; pow_nonce?: string; again?: boolean },
  ) => request<QueueState>("POST", `/api/events/${enc(eventId)}/queue`, { ...auth, body }),
  queueChallenge: (eventId: string, auth: QueueAuth) =>
    request<PowChallenge>("GET", `/api/events/${enc(eventId)}/queue/challenge`, { ...auth }),
  queueMe: (eventId: string, auth: QueueAuth) =>
    request<QueueState>("GET", `/api/events/${enc(eventId)}/queue/me`, { ...auth }),
  returnToQueue: (eventId: string, auth: QueueAuth) =>
    request<QueueState>("POST", `/api/events/${enc(eventId)}/queue/return`, { ...auth }),
  setQueueEmail: (eventId: string, email: string | null, auth: QueueAuth) =>
    request<{ email: string | null }>("PUT", `/api/events/${enc(eventId)}/queue/me/email`, {
      ...auth,
      body: { email },
    }),
  leaveQueue: (eventId: string, auth: QueueAuth) =>
    request<void>("DELETE", `/api/events/${enc(eventId)}/queue/me`, { ...auth }),
  waitingRoom: (eventId: string, adminToken: string) =>
    request<WaitingRoomStats>("GET", `/api/events/${enc(eventId)}/waiting-room`, { token: adminToken }),
  patchWaitingRoom: (
    eventId: string,
    body: WaitingRoomPatch,
    adminToken: string,
  ) => request<WaitingRoomStats>("PATCH", `/api/events/${enc(eventId)}/waiting-room`, { body, token: adminToken }),

  createHold: (
    eventId: string,
    body: ({ quantity: number } | { seat_ids: string[] }) & { half_price?: number; ticket_type?: string; code?: string },
    token: string,
    admissionToken?: string | null,
    visitorToken?: string | null,
  ) =>
    request<Hold>("POST", `/api/events/${enc(eventId)}/holds`, {
      body,
      token,
      headers: admissionToken
        ? { "Admission-Token": admissionToken, ...(visitorToken ? { "Visitor-Token": visitorToken } : {}) }
        : undefined,
    }),
  hold: (id: string, token: string) => request<Hold>("GET", `/api/holds/${enc(id)}`, { token }),
  extendHold: (id: string, token: string) => request<Hold>("POST", `/api/holds/${enc(id)}/extend`, { token }),
  releaseHold: (id: string, token: string) => request<void>("DELETE", `/api/holds/${enc(id)}`, { token }),
  confirmHold: (id: string, paymentMethod: string, idempotencyKey: string, token: string) =>
    request<{ hold_id?: string; total_cents?: number; purchases: Purchase[] }>("POST", `/api/holds/${enc(id)}/confirm`, {
      body: { payment_method: paymentMethod },
      token,
      headers: { "Idempotency-Key": idempotencyKey },
    }),

  /** A one-use ticket to open a WebSocket (`?ticket=`), asked with the token in the header. */
  wsTicket: (auth: QueueAuth) =>
    request<{ ticket: string; expires_in_s: number }>("POST", "/api/ws-tickets", { ...auth }),

  placeOrder: (
    body: { event_id: string; quantity: number; payment_method: string; ticket_type?: string },
    idempotencyKey: string,
    token: string,
  ) =>
    request<OrderAccepted>("POST", "/api/orders", { body, token, headers: { "Idempotency-Key": idempotencyKey } }),
  order: (id: string, token: string) => request<Order>("GET", `/api/orders/${enc(id)}`, { token }),

  feed: async (limit = 30, signal?: AbortSignal) =>
    asList<FeedItem>(await request<unknown>("GET", `/api/purchases?limit=${limit}`, { signal }), "purchases"),
  jobs: (adminToken: string, signal?: AbortSignal) =>
    request<Record<string, unknown>>("GET", "/api/admin/jobs", { token: adminToken, signal }),
};
