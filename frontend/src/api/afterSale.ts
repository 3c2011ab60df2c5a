// After the sale: e-tickets, check-in, refunds, event management, the dev mail page.
import { ApiError, request } from "./client";
import type { DoorKit } from "../lib/door";

export interface ETicket {
  id: string;
  event_id: string;
  event_name: string;
  venue: string;
  starts_at: string;
  ticket_id: string;
  seat: string;
  holder: string;
  price_cents: number;
  state: "valid" | "checked_in" | "refund_pending" | "refunded";
  checked_in_at: string | null;
  checked_in_door: string | null;
  code: string;
  qr_png: string;
  page: string;
  cancel_until?: string | null;
  cancel_fee_cents?: number;
  cancel_refund_cents?: number;
  cancellable?: boolean;
}

export interface Checkin {
  result: "admitted" | "already_checked_in" | "refunded" | "wrong_event" | "forged";
  admitted: boolean;
  ticket_id?: string | null;
  holder?: string | null;
  seat?: string | null;
  checked_in_at?: string | null;
  door?: string | null;
}

export interface Refund {
  ticket_id: string;
  reason: string;
  refund_cents: number;
  fee_cents: number;
  refunded_at: string;
}

export interface EventPurchase {
  id: string;
  buyer_name: string;
  buyer_email: string;
  seat: string;
  price_cents: number;
  purchased_at: string;
  state: ETicket["state"];
  checked_in_at: string | null;
  refunded_at: string | null;
  refund_cents: number | null;
  refund_reason: string | null;
}

export interface EventPurchases {
  items: EventPurchase[];
  total: number;
  page: number;
  limit: number;
}

export interface ReportSection {
  section: string;
  capacity: number;
  sold: number;
  held: number;
  available: number;
  revenue_cents: number;
  refunds: number;
  checked_in: number;
}

export interface EventReport {
  name: string;
  cancelled: boolean;
  capacity: number;
  sold: number;
  held: number;
  available: number;
  revenue_cents: number;
  refunds: number;
  refunded_cents: number;
  checked_in: number;
  by_section: ReportSection[];
  over_time: { at: string; sold: number; refunded: number; revenue_cents: number }[];
}

export interface SunkMail {
  id: string;
  to: string;
  subject: string;
  kind: string;
  date: string;
  text: string;
  attachments: { filename: string; content_type: string; size: number }[];
}

const enc = encodeURIComponent;

/** A binary resource behind a bearer token, as an object URL for <img> or a download link. */
export async function blobUrl(path: string, token: string): Promise<string> {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw new ApiError(response.status, "download_failed", `Could not load ${path}`);
  return URL.createObjectURL(await response.blob());
}

export const afterSale = {
  myTickets: (token: string) => request<ETicket[]>("GET", "/api/tickets", { token }),
  refundTicket: (id: string, token: string) => request<Refund>("POST", `/api/tickets/${enc(id)}/refund`, { token }),
  checkIn: (eventId: string, code: string, token: string, door?: string) =>
    request<Checkin>("POST", `/api/events/${enc(eventId)}/checkins`, { token, body: door ? { code, door } : { code } }),
  doorKit: (eventId: string, token: string, since?: string) =>
    request<DoorKit>(
      "GET",
      `/api/events/${enc(eventId)}/door-kit${since ? `?since=${enc(since)}` : ""}`,
      { token },
    ),
  uploadOfflineScans: (eventId: string, scans: { code: string; scanned_at: string }[], token: string, door?: string) =>
    request<{ results: Checkin[] }>("POST", `/api/events/${enc(eventId)}/checkins/offline`, {
      token,
      body: door ? { scans, door } : { scans },
    }),
  doorToken: (eventId: string, door: string, adminToken: string) =>
    request<{ token: string; expires_at: string }>("POST", `/api/events/${enc(eventId)}/door-tokens`, {
      token: adminToken,
      body: { door },
    }),
  updateEvent: (eventId: string, body: Record<string, unknown>, adminToken: string) =>
    request<unknown>("PATCH", `/api/events/${enc(eventId)}`, { token: adminToken, body }),
  cancelEvent: (eventId: string, adminToken: string) =>
    request<{ purchases_to_refund: number }>("POST", `/api/events/${enc(eventId)}/cancel`, { token: adminToken }),
  eventPurchases: (eventId: string, params: { q?: string; page?: number; limit?: number }, adminToken: string) => {
    const query = new URLSearchParams();
    if (params.q?.trim()) query.set("q", params.q.trim());
    if (params.page) query.set("page", String(params.page));
    if (params.limit) query.set("limit", String(params.limit));
    const text = query.toString();
    return request<EventPurchases>("GET", `/api/events/${enc(eventId)}/purchases${text ? `?${text}` : ""}`, {
      token: adminToken,
    });
  },
  report: (eventId: string, adminToken: string) =>
    request<EventReport>("GET", `/api/events/${enc(eventId)}/report`, { token: adminToken }),
  devMail: (adminToken: string) => request<SunkMail[]>("GET", "/api/dev/mail", { token: adminToken }),
  askReset: (email: string) => request<unknown>("POST", "/api/password-resets", { body: { email } }),
  confirmReset: (token: string, password: string) =>
    request<void>("POST", "/api/password-resets/confirm", { body: { token, password } }),
};
