// The waitlist in the browser: the entry's token kept per event, and reading an offer's link.

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
