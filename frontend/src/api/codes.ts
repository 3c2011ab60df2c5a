// Presale and discount codes (docs/codes.md): the organizer's calls and the buyer's check.
import { request } from "./client";
import type { Hold } from "./types";

export type CodeKind = "access" | "discount";

/** What a buyer learns before holding: the code is usable now, and what it does. */
export interface CodeCheck {
  code: string;
  kind: CodeKind;
  percent_off: number | null;
  amount_off_cents: number | null;
  ticket_type: string | null;
  presale: boolean;
}

/** A code as the organizer sees it, with its tracking. */
export interface CodeView extends Omit<CodeCheck, "presale"> {
  id: string;
  event_id: string;
  max_uses: number | null;
  valid_from: string | null;
  valid_until: string | null;
  active: boolean;
  created_at: string;
  uses: number;
  confirmed: number;
  in_flight: number;
  revenue_cents: number;
  discount_cents: number;
}

export interface CodeCreate {
  code: string;
  kind: CodeKind;
  percent_off?: number;
  amount_off_cents?: number;
  ticket_type?: string;
  max_uses?: number;
  valid_from?: string;
  valid_until?: string;
}

const enc = encodeURIComponent;

export const codesApi = {
  check: (eventId: string, code: string) =>
    request<CodeCheck>("GET", `/api/events/${enc(eventId)}/codes/${enc(code)}/check`),
  list: (eventId: string, adminToken: string) =>
    request<CodeView[]>("GET", `/api/events/${enc(eventId)}/codes`, { token: adminToken }),
  create: (eventId: string, body: CodeCreate, adminToken: string) =>
    request<CodeView>("POST", `/api/events/${enc(eventId)}/codes`, { body, token: adminToken }),
  /** A discount code for the caller's hold already made (the checkout), before paying. */
  applyToHold: (holdId: string, code: string, token: string) =>
    request<Hold>("POST", `/api/holds/${enc(holdId)}/code`, { body: { code }, token }),
  update: (eventId: string, code: string, body: { active?: boolean; max_uses?: number | null }, adminToken: string) =>
    request<CodeView>("PATCH", `/api/events/${enc(eventId)}/codes/${enc(code)}`, { body, token: adminToken }),
};
