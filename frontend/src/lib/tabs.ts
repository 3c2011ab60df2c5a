// Tabs of one browser agree on the waiting room: the place is the visitor's (the server keeps it),
// and at admission exactly one tab takes the tickets while the others say where they went.
// Messages travel on a BroadcastChannel per event; the claim of an admission is a Web Lock
// (Chromium, Firefox, Safari) with a localStorage record, so a reload does not claim twice.

/** This tab's id: kept in sessionStorage, so the tab keeps it across its own reloads. */
export const TAB_ID = ((): string => {
  const fresh = Math.random().toString(36).slice(2);
  try {
    const kept = sessionStorage.getItem("crowdpass.tab");
    if (kept) return kept;
    sessionStorage.setItem("crowdpass.tab", fresh);
  } catch {
    /* no storage: a fresh id per page view */
  }
  return fresh;
})();

/** A claim not turned into a hold within this long is free again (its tab was closed). */
export const CLAIM_STALE_MS = 15_000;

export type TabMessage =
  | { type: "holding"; tab: string }
  | { type: "hold"; tab: string; holdId: string }
  | { type: "left"; tab: string }
  | { type: "joined"; tab: string };

export function openChannel(eventId: string, onMessage: (msg: TabMessage) => void): () => void {
  if (typeof BroadcastChannel === "undefined") return () => {};
  const channel = new BroadcastChannel(`crowdpass.queue.${eventId}`);
  channel.onmessage = (e: MessageEvent) => {
    const msg = e.data as TabMessage;
    if (msg && msg.tab !== TAB_ID) onMessage(msg);
  };
  return () => channel.close();
}

export function tellTabs(eventId: string, msg: TabMessage): void {
  if (typeof BroadcastChannel === "undefined") return;
  const channel = new BroadcastChannel(`crowdpass.queue.${eventId}`);
  channel.postMessage(msg);
  channel.close();
}

interface Claim {
  admission: string;
  tab: string;
  at?: number;
  holdId?: string;
}

const claimKey = (eventId: string) => `crowdpass.claim.${eventId}`;

export function readClaim(eventId: string): Claim | null {
  try {
    const raw = localStorage.getItem(claimKey(eventId));
    return raw ? (JSON.parse(raw) as Claim) : null;
  } catch {
    return null;
  }
}

function writeClaim(eventId: string, claim: Claim): void {
  try {
    localStorage.setItem(claimKey(eventId), JSON.stringify(claim));
  } catch {
    /* no storage: the server still lets one hold through */
  }
}

/** Record where the claimed admission went, for the other tabs and reloads. */
export function recordHold(eventId: string, admission: string, holdId: string): void {
  writeClaim(eventId, { admission, tab: TAB_ID, at: Date.now(), holdId });
  tellTabs(eventId, { type: "hold", tab: TAB_ID, holdId });
}

/**
 * Claim an admission for this tab: true for exactly one tab of the browser (and for this tab again
 * after a reload of it). The server takes an admission once anyway; this only keeps the other tabs
 * from trying and showing an error.
 */
export async function claimAdmission(eventId: string, admission: string, now = Date.now()): Promise<boolean> {
  const decide = (): boolean => {
    const current = readClaim(eventId);
    const live = current && (current.holdId || now - (current.at ?? 0) < CLAIM_STALE_MS);
    if (current && current.admission === admission && live) return current.tab === TAB_ID;
    writeClaim(eventId, { admission, tab: TAB_ID, at: now });
    return true;
  };
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  if (locks?.request) {
    return locks.request(claimKey(eventId), async () => decide());
  }
  return decide();
}
