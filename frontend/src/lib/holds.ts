// Checkout helpers: when to offer the one extension a hold may have.
import type { Hold } from "../api/types";

/** The last minute, when the buyer may still ask for more time (once per hold). */
export const EXTEND_OFFER_S = 60;

/** Seconds "Extend" would add now, or 0 when not to offer it (not the last minute, used, off, ended). */
export function extensionOffer(hold: Pick<Hold, "status" | "extended_at" | "extension_s">, left: number | null): number {
  if (hold.status !== "active" || hold.extended_at || left === null || left <= 0 || left > EXTEND_OFFER_S) return 0;
  return Math.max(0, hold.extension_s ?? 0);
}

/** A hold pushed over /api/ws leaves out what an extension would add: keep what was read. */
export function mergeHold(old: Hold | undefined, pushed: Hold): Hold {
  return { ...pushed, extension_s: pushed.extension_s ?? old?.extension_s ?? null };
}
