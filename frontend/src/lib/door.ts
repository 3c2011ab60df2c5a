// The door without network: check an e-ticket code in the browser with the event's public key
// (the door kit), keep the revocation list, remember what this door admitted, and queue the
// scans made offline until they can be uploaded (docs/after-sale.md, "Offline check-in").
//
// A code is `CP2.<payload>.<signature>`, base64url; the payload is the purchase id (16 bytes),
// the event id (16 bytes) and "holder\x1fseat" in UTF-8; the signature is Ed25519 over
// `CP2.<payload>` (reservations/etickets/codes.py). @noble/curves checks it: synchronous,
// audited, and available on plain-HTTP pages, where crypto.subtle is not.
import { ed25519 } from "@noble/curves/ed25519.js";
import type { Checkin } from "../api/afterSale";

export const CODE_PREFIX = "CP2";

export interface TicketCode {
  purchaseId: string;
  eventId: string;
  holder: string;
  seat: string;
}

export interface DoorKit {
  event_id: string;
  algorithm: string;
  key: string; // the event's public key, base64url
  as_of: string;
  revoked: { id: string; at: string }[];
}

/** What a door keeps between page loads, per event. */
export interface DoorState {
  kit: { key: string; as_of: string } | null;
  revoked: Record<string, string>; // purchase id -> when
  seen: Record<string, { at: string; door: string }>; // admitted here (online or offline)
  pending: { code: string; scanned_at: string }[]; // offline scans not yet uploaded
}

export const EMPTY_STATE: DoorState = { kit: null, revoked: {}, seen: {}, pending: [] };

export function base64UrlDecode(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
    const bin = atob(b64);
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

function uuidOf(bytes: Uint8Array): string {
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The ticket a genuine code names, or null when it is malformed or its signature is wrong. */
export function verifyCode(code: string, publicKey: string): TicketCode | null {
  const parts = code.trim().split(".");
  if (parts.length !== 3 || parts[0] !== CODE_PREFIX) return null;
  const raw = base64UrlDecode(parts[1]!);
  const signature = base64UrlDecode(parts[2]!);
  const key = base64UrlDecode(publicKey);
  if (!raw || !signature || !key || raw.length < 32 || signature.length !== 64 || key.length !== 32) return null;
  const signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
  let valid = false;
  try {
    valid = ed25519.verify(signature, signed, key, { zip215: false });
  } catch {
    return null;
  }
  if (!valid) return null;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(raw.slice(32));
  } catch {
    return null;
  }
  const sep = text.indexOf("\x1f");
  return {
    purchaseId: uuidOf(raw.slice(0, 16)),
    eventId: uuidOf(raw.slice(16, 32)),
    holder: sep < 0 ? text : text.slice(0, sep),
    seat: sep < 0 ? "" : text.slice(sep + 1),
  };
}

/** The door kit merged into what the door keeps (a full kit or the changes `since`). */
export function mergeKit(state: DoorState, kit: DoorKit): DoorState {
  const revoked = { ...state.revoked };
  for (const r of kit.revoked) revoked[r.id] = r.at;
  return { ...state, kit: { key: kit.key, as_of: kit.as_of }, revoked };
}

export type OfflineCheck = Checkin & { offline: true };

/**
 * Check a scan without network. Admitted scans are queued for upload and remembered, so the
 * same ticket scanned again at this door is refused. Returns the new state and the answer;
 * null when the door has no kit yet (it was never online).
 */
export function checkOffline(
  state: DoorState,
  eventId: string,
  code: string,
  door: string,
  now: Date = new Date(),
): { state: DoorState; result: OfflineCheck } | null {
  if (!state.kit) return null;
  const ticket = verifyCode(code, state.kit.key);
  if (!ticket) return { state, result: { result: "forged", admitted: false, offline: true } };
  const about = { holder: ticket.holder, seat: ticket.seat, offline: true as const };
  if (ticket.eventId !== eventId.toLowerCase()) {
    return { state, result: { result: "wrong_event", admitted: false, ...about } };
  }
  if (state.revoked[ticket.purchaseId]) return { state, result: { result: "refunded", admitted: false, ...about } };
  const seen = state.seen[ticket.purchaseId];
  if (seen) {
    return {
      state,
      result: { result: "already_checked_in", admitted: false, checked_in_at: seen.at, door: seen.door, ...about },
    };
  }
  const at = now.toISOString();
  return {
    state: {
      ...state,
      seen: { ...state.seen, [ticket.purchaseId]: { at, door } },
      pending: [...state.pending, { code: code.trim(), scanned_at: at }],
    },
    result: { result: "admitted", admitted: true, checked_in_at: at, door, ...about },
  };
}

/** Remember a ticket the server admitted (or had admitted) while online. */
export function rememberOnline(state: DoorState, answer: Checkin & { ticket_id?: string | null }): DoorState {
  if (!answer.ticket_id || !answer.checked_in_at || !answer.door) return state;
  if (answer.result !== "admitted" && answer.result !== "already_checked_in") return state;
  return { ...state, seen: { ...state.seen, [answer.ticket_id]: { at: answer.checked_in_at, door: answer.door } } };
}

function storageKey(eventId: string): string {
  return `crowdpass.door.${eventId}`;
}

export function loadDoorState(eventId: string): DoorState {
  try {
    const raw = localStorage.getItem(storageKey(eventId));
    if (!raw) return EMPTY_STATE;
    const parsed = JSON.parse(raw) as Partial<DoorState>;
    return {
      kit: parsed.kit ?? null,
      revoked: parsed.revoked ?? {},
      seen: parsed.seen ?? {},
      pending: Array.isArray(parsed.pending) ? parsed.pending : [],
    };
  } catch {
    return EMPTY_STATE;
  }
}

export function saveDoorState(eventId: string, state: DoorState): void {
  try {
    localStorage.setItem(storageKey(eventId), JSON.stringify(state));
  } catch {
    /* full or private storage: the door keeps working for this page view */
  }
}
