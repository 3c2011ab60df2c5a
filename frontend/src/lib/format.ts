// Formatting for people: money (integer cents), dates in the viewer's time zone, durations.

export const CURRENCY = "BRL";

const money = new Intl.NumberFormat("en-US", { style: "currency", currency: CURRENCY });

export function formatMoney(cents: number | null | undefined): string {
  if (typeof cents !== "number" || !Number.isFinite(cents)) return "—";
  return money.format(cents / 100);
}

const dateTime = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  day: "numeric",
  month: "short",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "—" : dateTime.format(d);
}

/** "1:05:09", "4:07", "0:09": a countdown's text. */
export function formatClock(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(sec).padStart(2, "0")}`;
}

/** "about 3 minutes", "less than a minute": an estimate's text. */
export function formatEta(seconds: number | null | undefined): string {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return "calculating…";
  if (seconds < 60) return "less than a minute";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} minute${minutes === 1 ? "" : "s"}`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return `about ${hours} h ${rest > 0 ? `${rest} min` : ""}`.trim();
}

/** Long durations for a countdown to an opening: "2 days 3 h", else a clock. */
export function formatLongCountdown(seconds: number): string {
  if (seconds >= 86400) {
    const days = Math.floor(seconds / 86400);
    const hours = Math.floor((seconds % 86400) / 3600);
    return `${days}\u00a0day${days === 1 ? "" : "s"}${hours ? ` ${hours}\u00a0h` : ""}`;
  }
  return formatClock(seconds);
}

export function timeAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ago`;
  return formatDateTime(iso);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

export function seatLabel(t: { section?: string | null; row?: string | null; number?: number | null }): string {
  if (!t.section && !t.row && (t.number === null || t.number === undefined)) return "General admission";
  const parts = [];
  if (t.section) parts.push(t.section);
  if (t.row) parts.push(`row ${t.row}`);
  if (t.number !== null && t.number !== undefined) parts.push(`seat ${t.number}`);
  return parts.join(" · ");
}

/** A duration for people: "120 ms", "4.2 s", "42 s", "5 min", "5 min 12 s", "2 h 5 min", "1 d 3 h". */
export function formatDuration(seconds: number | null | undefined): string {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 10) return `${(Math.round(seconds * 10) / 10).toString()} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const join = (a: number, unitA: string, b: number, unitB: string) => (b ? `${a} ${unitA} ${b} ${unitB}` : `${a} ${unitA}`);
  if (s < 3600) return join(Math.floor(s / 60), "min", s % 60, "s");
  if (s < 86_400) return join(Math.floor(s / 3600), "h", Math.round((s % 3600) / 60) % 60, "min");
  return join(Math.floor(s / 86_400), "d", Math.round((s % 86_400) / 3600) % 24, "h");
}

/** An id shortened for a table cell ("3f2a9c1e…"); the full id stays in a tooltip and the copy button. */
export function shortId(id: string): string {
  return id.length > 12 ? `${id.slice(0, 8)}…` : id;
}

/** The cancel policy in one sentence, for the event page and "My tickets". */
export function cancelPolicyText(until: string | null | undefined, feeCents: number, open: boolean): string {
  if (!until) return "Tickets cannot be cancelled by buyers.";
  const fee = feeCents > 0 ? `a fee of ${formatMoney(feeCents)} is kept` : "no fee";
  return open
    ? `Cancel until ${formatDateTime(until)} (${fee}).`
    : `Cancelling closed on ${formatDateTime(until)}.`;
}
