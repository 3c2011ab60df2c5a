// Codes on the web app (docs/codes.md): the text rule, what a code does in words, the
// discount the server will give (same rule: half price first, then per ticket of the code's
// type, percent rounded down, never below 0), and why a code was refused.
import { ApiError } from "../api/client";
import type { CodeCheck, CodeCreate, CodeKind } from "../api/codes";
import { formatMoney } from "./format";

const CODE_RULE = /^[A-Za-z0-9_-]{3,32}$/;

/** The code as the server stores it, or null when the text can never be a code. */
export function normalizeCode(text: string): string | null {
  const code = text.trim();
  return CODE_RULE.test(code) ? code.toUpperCase() : null;
}

/** "10% off", "R$ 5,00 off each VIP ticket", "Presale access". */
export function describeCode(c: Pick<CodeCheck, "kind" | "percent_off" | "amount_off_cents" | "ticket_type">): string {
  if (c.kind === "access") return c.ticket_type ? `Presale access to ${c.ticket_type} tickets` : "Presale access";
  const off = c.percent_off != null ? `${c.percent_off}% off` : `${formatMoney(c.amount_off_cents ?? 0)} off`;
  return c.ticket_type ? `${off} each ${c.ticket_type} ticket` : `${off} each ticket`;
}

export interface PricedTicket {
  price_cents: number; // after half price
  ticket_type?: string | null; // its section's name; null: the event's only type
}

/** Cents the code takes off these tickets (what the hold will say in `discount_cents`). */
export function codeDiscount(tickets: PricedTicket[], c: Pick<CodeCheck, "kind" | "percent_off" | "amount_off_cents" | "ticket_type">): number {
  if (c.kind !== "discount") return 0;
  let off = 0;
  for (const t of tickets) {
    if (c.ticket_type != null && c.ticket_type !== (t.ticket_type ?? null)) continue;
    off += c.percent_off != null ? Math.floor((t.price_cents * c.percent_off) / 100) : Math.min(t.price_cents, c.amount_off_cents ?? 0);
  }
  return off;
}

/** `count` tickets at `unitPrice`, the first `half` of them half price (as the server orders them). */
export function gaTickets(unitPrice: number, count: number, half: number): PricedTicket[] {
  return Array.from({ length: count }, (_, i) => ({ price_cents: i < half ? Math.floor(unitPrice / 2) : unitPrice }));
}

const REASONS: Record<string, string> = {
  code_unknown: "This event has no such code (or it was switched off). Check the spelling.",
  code_not_valid_now: "This code is not valid right now.",
  code_exhausted: "This code has been used up. Uses come back when others' holds expire, so try again later.",
  code_not_applicable: "This code is for another ticket type (or, for a presale code, works when choosing tickets).",
  code_too_late: "Codes go before paying: this hold already has a code, or a payment was tried on it.",
  rate_limited: "Too many codes tried. Wait a minute and try again.",
};

/** Why a code was refused, in words a buyer understands. */
export function codeRefusal(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === "code_not_valid_now" && err.detail) return err.detail;
    if (err.code === "invalid_input") return "A code is 3 to 32 letters, digits, '-' or '_'.";
    return REASONS[err.code] ?? (err.detail || "The code could not be checked. Try again.");
  }
  return "The code could not be checked. Try again.";
}

export interface CodeDraft {
  code: string;
  kind: CodeKind;
  amount: string; // "10%" or "5.00" (currency units)
  ticket_type: string;
  max_uses: string;
  valid_until: string; // datetime-local
}

export const EMPTY_CODE_DRAFT: CodeDraft = { code: "", kind: "discount", amount: "", ticket_type: "", max_uses: "", valid_until: "" };

/** The organizer's form as the API's body, or the reason it is not one yet. */
export function codeDraftToBody(d: CodeDraft): CodeCreate | string {
  const code = normalizeCode(d.code);
  if (!code) return "A code is 3 to 32 letters, digits, '-' or '_'.";
  const body: CodeCreate = { code, kind: d.kind };
  if (d.kind === "discount") {
    const text = d.amount.trim();
    if (text.endsWith("%")) {
      const pct = Number(text.slice(0, -1));
      if (!Number.isInteger(pct) || pct < 1 || pct > 100) return "A percentage is a whole number from 1 to 100.";
      body.percent_off = pct;
    } else {
      const cents = Math.round(Number(text.replace(",", ".")) * 100);
      if (!text || !Number.isFinite(cents) || cents < 1) return "Give the discount as a percentage (10%) or an amount (5.00).";
      body.amount_off_cents = cents;
    }
  }
  if (d.ticket_type.trim()) body.ticket_type = d.ticket_type.trim();
  if (d.max_uses.trim()) {
    const n = Number(d.max_uses);
    if (!Number.isInteger(n) || n < 1) return "Uses must be a whole number of at least 1 (or empty: unlimited).";
    body.max_uses = n;
  }
  if (d.valid_until) {
    const at = new Date(d.valid_until);
    if (Number.isNaN(at.getTime())) return "Valid until is not a date.";
    body.valid_until = at.toISOString();
  }
  return body;
}
