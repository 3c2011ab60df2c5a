// What the app keeps in the browser: the customer session, the organizer token, purchase intents,
// waiting-room admissions and idempotency keys. Every read survives missing or corrupt storage.
import { useSyncExternalStore } from "react";
import type { Session } from "../api/types";
import { newKey } from "../api/client";

const SESSION_KEY = "crowdpass.session";
const ADMIN_KEY = "crowdpass.admin";

function read<T>(key: string): T | null {
  try {
    const raw = localStorage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : null;
  } catch {
    return null;
  }
}

function write(key: string, value: unknown): void {
  try {
    if (value === null || value === undefined) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* private mode or full storage: the app keeps working for this page view */
  }
}

type Listener = () => void;
const listeners = new Set<Listener>();
function emit(): void {
  for (const l of listeners) l();
}
function subscribe(l: Listener): () => void {
  listeners.add(l);
  const onStorage = (e: StorageEvent) => {
    if (e.key === SESSION_KEY || e.key === ADMIN_KEY) {
      cache.session = undefined;
      cache.admin = undefined;
      l();
    }
  };
  window.addEventListener("storage", onStorage);
  return () => {
    listeners.delete(l);
    window.removeEventListener("storage", onStorage);
  };
}

// Snapshots must be stable between changes for useSyncExternalStore.
const cache: { session?: Session | null; admin?: string | null } = {};

export function getSession(): Session | null {
  if (cache.session === undefined) {
    const s = read<Session>(SESSION_KEY);
    cache.session = s && s.token && s.customer?.id ? s : null;
  }
  return cache.session;
}

export function setSession(session: Session | null): void {
  write(SESSION_KEY, session);
  cache.session = session;
  emit();
}

export function getAdminToken(): string | null {
  if (cache.admin === undefined) cache.admin = read<string>(ADMIN_KEY);
  return cache.admin;
}

export function setAdminToken(token: string | null): void {
  write(ADMIN_KEY, token);
  cache.admin = token;
  emit();
}

export function useSession(): Session | null {
  return useSyncExternalStore(subscribe, getSession, getSession);
}

export function useAdminToken(): string | null {
  return useSyncExternalStore(subscribe, getAdminToken, getAdminToken);
}

const VISITOR_KEY = "crowdpass.visitor";

/**
 * The anonymous visitor's token (API.md "Waiting room"): one per browser, shared by its tabs, so
 * reloads and other tabs find the same place in line. Signing in keeps it: the customer sends it
 * as `Visitor-Token` and takes the visitor's place over.
 */
export function getVisitorToken(): string | null {
  const token = read<string>(VISITOR_KEY);
  return typeof token === "string" && token ? token : null;
}

export function setVisitorToken(token: string | null): void {
  write(VISITOR_KEY, token);
}

/** What the buyer chose on the event page, carried through the waiting room. */
export interface Intent {
  quantity: number;
  half_price: number;
  ticket_type?: string; // the type chosen on the event page (docs/ticket-types.md)
}

export function getIntent(eventId: string): Intent | null {
  return read<Intent>(`crowdpass.intent.${eventId}`);
}

export function setIntent(eventId: string, intent: Intent | null): void {
  write(`crowdpass.intent.${eventId}`, intent);
}

/** A waiting-room admission, kept so a reload does not lose the turn. */
export interface Admission {
  token: string;
  expires_at?: string | null;
}

export function getAdmission(eventId: string): Admission | null {
  const a = read<Admission>(`crowdpass.admission.${eventId}`);
  if (!a) return null;
  if (a.expires_at && Date.parse(a.expires_at) < Date.now()) {
    write(`crowdpass.admission.${eventId}`, null);
    return null;
  }
  return a;
}

export function setAdmission(eventId: string, admission: Admission | null): void {
  write(`crowdpass.admission.${eventId}`, admission);
}

/** The first position seen in a waiting room: the progress bar measures from it. */
export function firstPosition(eventId: string, position: number): number {
  const key = `crowdpass.firstpos.${eventId}`;
  const seen = read<number>(key);
  if (typeof seen === "number" && seen >= position) return seen;
  write(key, position);
  return position;
}

/**
 * The Idempotency-Key of a payment: one per hold and card number, kept across reloads, so pressing
 * Pay again after a lost answer repeats the same request instead of paying twice.
 */
export function paymentKey(holdId: string, cardNumber: string): string {
  // The card number itself is never stored: only a short fingerprint of it.
  return keptKey(`crowdpass.pay.${holdId}.${fingerprint(cardNumber)}`);
}

/**
 * The Idempotency-Key of a one-step order (`POST /api/orders`): one per event, quantity and card,
 * kept across reloads until the order is decided, so "Buy" pressed again after a lost answer
 * finds the same order instead of buying twice.
 */
export function orderKey(eventId: string, quantity: number, cardNumber: string): string {
  return keptKey(orderKeyName(eventId, quantity, cardNumber));
}

/** Forget the key once its order is decided: the next "Buy" is a new order. */
export function forgetOrderKey(eventId: string, quantity: number, cardNumber: string): void {
  write(orderKeyName(eventId, quantity, cardNumber), null);
}

function orderKeyName(eventId: string, quantity: number, cardNumber: string): string {
  return `crowdpass.order.${eventId}.${quantity}.${fingerprint(cardNumber)}`;
}

/** The idempotency key stored under `name`, made and stored on first use. */
function keptKey(name: string): string {
  const existing = read<string>(name);
  if (existing) return existing;
  const fresh = newKey();
  write(name, fresh);
  return fresh;
}

/**
 * The payment method (`pm_...`) the provider made of a card, kept under a fingerprint of the
 * number with its last four digits (never the number itself): the same card pays with the same
 * payment method, also after a reload, so a repeated payment is the same request.
 */
export function rememberedPaymentMethod(cardNumber: string): { id: string; brand: string; last4: string } | null {
  const kept = read<{ id: string; brand: string; last4: string }>(paymentMethodName(cardNumber));
  if (!kept || typeof kept.id !== "string" || kept.last4 !== cardNumber.slice(-4)) return null;
  return kept;
}

export function rememberPaymentMethod(cardNumber: string, method: { id: string; brand: string; last4: string }): void {
  write(paymentMethodName(cardNumber), { id: method.id, brand: method.brand, last4: method.last4 });
}

function paymentMethodName(cardNumber: string): string {
  return `crowdpass.pm.${fingerprint(cardNumber)}`;
}

function fingerprint(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(36);
}
