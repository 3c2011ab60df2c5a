// The waiting room's rules in the browser, kept free of React so they can be tested alone:
// who the page queues as, when it may join, and how the wait is put into words.
import type { QueueAuth } from "../api/endpoints";
import type { QueueState } from "../api/types";

/**
 * Who a queue call is: the signed-in customer (plus the visitor's token, so the place the browser
 * queued in anonymously becomes theirs), else the anonymous visitor, else a newcomer (no token).
 */
export function queueAuth(customerToken: string | null | undefined, visitorToken: string | null): QueueAuth {
  if (customerToken) return { token: customerToken, headers: visitorToken ? { "Visitor-Token": visitorToken } : {} };
  return { token: visitorToken };
}

/**
 * Whether a page that found no place (404 `not_in_queue`) may take one by itself. Only a visitor
 * who never had a turn may: after an admission (used in some tab, or expired) or a sold-out
 * answer, joining again is the visitor's own choice, never the page's.
 */
export function mayJoinBySelf(last: QueueState["status"] | null | undefined): boolean {
  return last === null || last === undefined || last === "waiting";
}

/** True only when nobody is ahead AND the line is moving AND a ticket can be had. */
export function isNext(s: Pick<QueueState, "status" | "position" | "state" | "blocked">): boolean {
  return s.status === "waiting" && s.position === 1 && s.state === "open" && !s.blocked;
}

function minutes(seconds: number): number {
  return Math.max(1, Math.round(seconds / 60));
}

/** "about 30 s", "2–4 min", "about 1 h 10 min"; for a [low, high] range of seconds. */
export function formatEtaRange(range: readonly [number, number] | null | undefined): string | null {
  if (!range) return null;
  const [low, high] = range;
  if (high < 60) return high <= 10 ? "a few seconds" : `under a minute`;
  if (high < 3600) {
    const lo = minutes(low);
    const hi = Math.max(lo, minutes(high));
    return lo === hi ? `about ${hi} min` : `${lo}–${hi} min`;
  }
  const h = Math.floor(high / 3600);
  const m = Math.round((high % 3600) / 60);
  return `up to ${h} h${m ? ` ${m} min` : ""}`;
}

/** The wait in words, honest about what is not known. */
export function describeWait(s: QueueState, opensInS = 0): string {
  if (s.state === "scheduled" || opensInS > 0) {
    return s.position === null
      ? "Your place is drawn when the sale opens."
      : "The line starts moving when the sale opens.";
  }
  if (s.state === "paused") return "No estimate until admissions resume.";
  if (s.state === "sold_out" || s.state === "closed") return "Nothing is left to sell right now.";
  if (s.blocked) {
    return "Every ticket left is being held by other buyers. If they do not pay in time, tickets come back and the line moves.";
  }
  if (s.beyond_stock) {
    return "More people are ahead of you than there are tickets left: your turn comes only if some of them do not buy. You keep your place.";
  }
  const range = formatEtaRange(s.eta_range_s ?? (s.eta_s !== null ? [s.eta_s, s.eta_s] : null));
  if (!range) return "Not enough admissions yet to estimate the wait: it appears once the line moves.";
  return `Estimated wait: ${range}`;
}

/** "updated just now", "updated 12 s ago". */
export function updatedAgo(updatedAt: number | null, now: number): string {
  if (updatedAt === null) return "";
  const s = Math.max(0, Math.round((now - updatedAt) / 1000));
  return s < 2 ? "updated just now" : `updated ${s} s ago`;
}

/** The tab's title: the turn shows in the tab strip even when another tab is in front. */
export function turnTitle(eventName: string, s: QueueState | null, secondsLeft: number | null): string {
  if (s?.status === "admitted") {
    return secondsLeft !== null ? `🎟 Your turn! ${clock(secondsLeft)} left · ${eventName}` : `🎟 Your turn! · ${eventName}`;
  }
  if (s?.status === "waiting" && s.position !== null) return `#${s.position} in line · ${eventName}`;
  return `Waiting room · ${eventName}`;
}

export function clock(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return `${m}:${String(s).padStart(2, "0")}`;
}

/** A favicon drawn inline (no request): a ticket, green with a dot when it is the visitor's turn. */
export function faviconHref(turn: boolean): string {
  const fill = turn ? "%2316a34a" : "%234f46e5";
  const dot = turn ? "<circle cx='25' cy='7' r='6' fill='%23dc2626'/>" : "";
  return `data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'><rect x='2' y='8' width='28' height='18' rx='4' fill='${fill}'/>${dot}</svg>`;
}
