// The organizer's ticket types (docs/ticket-types.md) as drafted in the event form, and the
// `sections` entries of the POST /api/events body they become.

export interface TypeDraft {
  name: string;
  price: string; // currency units
  seating: "general" | "seated";
  capacity: string; // general admission
  rows: string; // seated
  seatsPerRow: string;
  opensAt: string; // datetime-local or "" (the event's)
  closesAt: string; // datetime-local or "" (until the event starts)
  limit: string; // per person, or "" (the event's)
}

export const NEW_TYPE: TypeDraft = {
  name: "",
  price: "",
  seating: "general",
  capacity: "100",
  rows: "5",
  seatsPerRow: "10",
  opensAt: "",
  closesAt: "",
  limit: "",
};

export const FIRST_TYPES: TypeDraft[] = [
  { ...NEW_TYPE, name: "Pista", capacity: "500" },
  { ...NEW_TYPE, name: "VIP", capacity: "50" },
];

type Fail = (field: string, message: string) => never;

function num(value: string, field: string, min: number, max: number, fail: Fail): number {
  const n = Number(value);
  if (!value.trim() || !Number.isInteger(n) || n < min || n > max) fail(field, `Enter a whole number from ${min} to ${max}.`);
  return n;
}

function instant(local: string, field: string, fail: Fail): string | undefined {
  if (!local) return undefined;
  const d = new Date(local);
  if (Number.isNaN(d.getTime())) fail(field, "Enter a date and time.");
  return d.toISOString();
}

/** The `sections` of the body; `fail` throws the form's error naming the field (`type-<i>-<what>`). */
export function typesToSections(types: TypeDraft[], fail: Fail): Record<string, unknown>[] {
  if (!types.length) fail("types", "Add at least one ticket type.");
  const seen = new Set<string>();
  return types.map((t, i) => {
    const at = `type-${i}`;
    const name = t.name.trim();
    if (!name) fail(`${at}-name`, "Name the ticket type.");
    if (seen.has(name)) fail(`${at}-name`, "Two ticket types have this name.");
    seen.add(name);
    const price = Number(t.price.replace(",", "."));
    if (!t.price.trim() || !Number.isFinite(price) || price < 0) fail(`${at}-price`, "Enter a price, e.g. 50 or 49.90.");
    const out: Record<string, unknown> = { name, price_cents: Math.round(price * 100) };
    if (t.seating === "general") out.capacity = num(t.capacity, `${at}-capacity`, 1, 200_000, fail);
    else {
      out.rows = num(t.rows, `${at}-rows`, 1, 500, fail);
      out.seats_per_row = num(t.seatsPerRow, `${at}-seats`, 1, 500, fail);
    }
    const opens = instant(t.opensAt, `${at}-opensAt`, fail);
    const closes = instant(t.closesAt, `${at}-closesAt`, fail);
    if (opens && closes && closes <= opens) fail(`${at}-closesAt`, "The sale must close after it opens.");
    if (opens) out.sales_open_at = opens;
    if (closes) out.sales_close_at = closes;
    if (t.limit.trim()) out.max_per_customer = num(t.limit, `${at}-limit`, 1, 20, fail);
    return out;
  });
}
