// The waitlist's API calls (API.md, "Waitlist").
import { request } from "./client";

export type WaitlistStatus = "waiting" | "offered" | "used" | "expired" | "left";

export interface WaitlistEntry {
  id: string;
  event_id: string;
  status: WaitlistStatus;
  position: number | null;
  email: string;
  ticket_type: string | null;
  quantity: number;
  offered_quantity: number | null;
  offered_at: string | null;
  offer_expires_at: string | null;
  seconds_left: number;
  created_at: string;
  entry_token: string | null;
  offer_token: string | null;
  checkout_url: string | null;
}

export interface WaitlistRow {
  id: string;
  position: number | null;
  email: string;
  customer_id: string | null;
  ticket_type: string | null;
  quantity: number;
  status: WaitlistStatus;
  offered_quantity: number | null;
  offered_at: string | null;
  offer_expires_at: string | null;
  created_at: string;
}

export interface Waitlist {
  event_id: string;
  enabled: boolean;
  waiting: number;
  offered: number;
  kept: number;
  entries: WaitlistRow[];
}

const enc = encodeURIComponent;

/** The caller: a customer token, and/or the entry's own token (`Waitlist-Token`). */
export interface WaitlistAuth {
  token?: string | null;
  entryToken?: string | null;
}

function headers(auth: WaitlistAuth): Record<string, string> | undefined {
  return auth.entryToken ? { "Waitlist-Token": auth.entryToken } : undefined;
}

export const waitlistApi = {
  join: (eventId: string, body: { email?: string; quantity: number; ticket_type?: string }, token?: string | null) =>
    request<WaitlistEntry>("POST", `/api/events/${enc(eventId)}/waitlist`, { body, token }),
  me: (eventId: string, auth: WaitlistAuth) =>
    request<WaitlistEntry>("GET", `/api/events/${enc(eventId)}/waitlist/me`, {
      token: auth.entryToken ? undefined : auth.token,
      headers: headers(auth),
    }),
  leave: (eventId: string, auth: WaitlistAuth) =>
    request<void>("DELETE", `/api/events/${enc(eventId)}/waitlist/me`, {
      token: auth.entryToken ? undefined : auth.token,
      headers: headers(auth),
    }),
  list: (eventId: string, adminToken: string) =>
    request<Waitlist>("GET", `/api/events/${enc(eventId)}/waitlist`, { token: adminToken }),
  setEnabled: (eventId: string, enabled: boolean, adminToken: string) =>
    request<{ event_id: string; enabled: boolean }>("PUT", `/api/events/${enc(eventId)}/waitlist/settings`, {
      body: { enabled },
      token: adminToken,
    }),
};
