// The waitlist in the browser: the entry's token kept per event, reading an offer's link, and the
// `waitlist_offer` message a socket brings.
import type { WaitlistEntry } from "../api/waitlist";

const key = (eventId: string) => `crowdpass.waitlist.${eventId}`;

/** The `entry_token` the join gave (it reads or leaves the entry without an account). */
export function getEntryToken(eventId: string): string | null {
  try {
    return localStorage.getItem(key(eventId));
  } catch {
    return null;
  }
}

export function setEntryToken(eventId: string, token: string | null): void {
  try {
    if (token) localStorage.setItem(key(eventId), token);
    else localStorage.removeItem(key(eventId));
  } catch {
    /* private mode: the entry still exists; the email reaches the buyer */
  }
}

/** The offer token of a checkout link (`/events/42?offer=…`), or null. */
export function offerFromSearch(search: string): string | null {
  const token = new URLSearchParams(search).get("offer");
  return token && token.split(".").length === 3 ? token : null;
}

/** When an offer ends (ms since the epoch), read from its token's `exp`; null if unreadable. */
export function offerExpiresMs(token: string): number | null {
  try {
    const payload = (token.split(".")[1] ?? "").replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(payload + "=".repeat((4 - (payload.length % 4)) % 4))) as { exp?: unknown };
    return typeof claims.exp === "number" ? claims.exp * 1000 : null;
  } catch {
    return null;
  }
}

/** "3rd in line" style text of a place (1 = next). */
export function placeText(position: number): string {
  if (position === 1) return "You are next in line";
  const mod100 = position % 100;
  const suffix = mod100 >= 11 && mod100 <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" } as Record<number, string>)[position % 10] ?? "th";
  return `You are ${position}${suffix} in line`;
}

/** How often an open entry is read again while no socket can bring its offer (the fallback). */
export const WAITLIST_POLL_MS = 10_000;

/** How often a waiting entry's place in line is read again while a socket is open: the socket
 * brings the offer at once, the place only moves as people ahead are served or leave. */
export const WAITLIST_PLACE_MS = 60_000;

/** The `waitlist_offer` message of `/api/ws` (a signed-in buyer) and of the queue socket (a visitor). */
export interface OfferMessage {
  type: "waitlist_offer";
  event_id: string;
  entry_id: string;
  offered_quantity: number;
  offer_expires_at: string;
  offer_token: string;
  checkout_url?: string;
}

/** The offer a socket message announces for this event, or null for any other message. */
export function offerFromMessage(data: unknown, eventId: string): OfferMessage | null {
  if (!data || typeof data !== "object") return null;
  const m = data as Partial<OfferMessage>;
  if (m.type !== "waitlist_offer" || m.event_id !== eventId) return null;
  if (typeof m.entry_id !== "string" || typeof m.offer_token !== "string" || typeof m.offer_expires_at !== "string") {
    return null;
  }
  return { ...(m as OfferMessage), offered_quantity: typeof m.offered_quantity === "number" ? m.offered_quantity : 1 };
}

/** The entry once its offer came: null when the offer is another entry's (read the entry again). */
export function withOffer(entry: WaitlistEntry | null, offer: OfferMessage): WaitlistEntry | null {
  if (!entry || entry.id !== offer.entry_id) return null;
  return {
    ...entry,
    status: "offered",
    position: null,
    offered_quantity: offer.offered_quantity,
    offer_expires_at: offer.offer_expires_at,
    offer_token: offer.offer_token,
    checkout_url: offer.checkout_url ?? null,
    seconds_left: Math.max(0, Math.ceil((Date.parse(offer.offer_expires_at) - Date.now()) / 1000)),
  };
}
