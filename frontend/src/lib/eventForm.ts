// The organizer's "new event" form and the API body it becomes.
import { FIRST_TYPES, type TypeDraft, typesToSections } from "./ticketTypes";

export interface SectionDraft {
  name: string;
  price: string; // in currency units, e.g. "50" or "49.90"
  rows: string;
  seatsPerRow: string;
}

export interface EventDraft {
  name: string;
  venue: string;
  startsAt: string; // datetime-local value
  salesOpenAt: string; // datetime-local value or ""
  kind: "ga" | "seated" | "types";
  price: string;
  capacity: string;
  sections: SectionDraft[];
  types: TypeDraft[]; // kind "types": ticket types (lib/ticketTypes.ts)
  maxPerCustomer: string;
  holdTtl: string;
  /** Extra time one extension of a hold adds, in seconds: "" = the time to pay again, "0" = none. */
  holdExtension: string;
  halfPrice: boolean;
  waitingRoom: boolean;
  admissionFactor: string;
  prequeue: "fifo" | "lottery";
}

export const EMPTY_DRAFT: EventDraft = {
  name: "",
  venue: "",
  startsAt: "",
  salesOpenAt: "",
  kind: "ga",
  price: "",
  capacity: "",
  sections: [{ name: "Stalls", price: "", rows: "5", seatsPerRow: "10" }],
  types: FIRST_TYPES,
  maxPerCustomer: "1",
  holdTtl: "300",
  holdExtension: "",
  halfPrice: false,
  waitingRoom: false,
  admissionFactor: "1.0",
  prequeue: "fifo",
};

export class DraftError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

function cents(value: string, field: string): number {
  const n = Number(value.replace(",", "."));
  if (!value.trim() || !Number.isFinite(n) || n < 0) throw new DraftError(field, "Enter a price, e.g. 50 or 49.90.");
  return Math.round(n * 100);
}

function int(value: string, field: string, min: number, max = 1_000_000): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new DraftError(field, `Enter a whole number from ${min} to ${max}.`);
  return n;
}

function iso(local: string, field: string): string {
  const d = new Date(local);
  if (!local || Number.isNaN(d.getTime())) throw new DraftError(field, "Enter a date and time.");
  return d.toISOString();
}

/** The POST /api/events body, or a DraftError naming the field to fix. */
export function draftToBody(d: EventDraft): Record<string, unknown> {
  if (!d.name.trim()) throw new DraftError("name", "Give the event a name.");
  const body: Record<string, unknown> = {
    name: d.name.trim(),
    venue: d.venue.trim(),
    starts_at: iso(d.startsAt, "startsAt"),
    max_per_customer: int(d.maxPerCustomer, "maxPerCustomer", 1, 100),
    hold_ttl_s: int(d.holdTtl, "holdTtl", 5, 3600),
    half_price: d.halfPrice,
    waiting_room: {
      enabled: d.waitingRoom,
      admission_factor: Number(d.admissionFactor) > 0 ? Number(d.admissionFactor) : 1.0,
      prequeue: d.prequeue,
    },
  };
  if (d.holdExtension.trim() !== "") body.hold_extension_s = int(d.holdExtension.trim(), "holdExtension", 0, 3600);
  if (d.salesOpenAt) body.sales_open_at = iso(d.salesOpenAt, "salesOpenAt");
  if (d.kind === "types") {
    body.sections = typesToSections(d.types, (field, message) => {
      throw new DraftError(field, message);
    });
  } else if (d.kind === "ga") {
    body.price_cents = cents(d.price, "price");
    body.capacity = int(d.capacity, "capacity", 1);
  } else {
    if (!d.sections.length) throw new DraftError("sections", "Add at least one section.");
    body.sections = d.sections.map((s, i) => {
      if (!s.name.trim()) throw new DraftError(`section-${i}-name`, "Name the section.");
      return {
        name: s.name.trim(),
        price_cents: cents(s.price, `section-${i}-price`),
        rows: int(s.rows, `section-${i}-rows`, 1, 500),
        seats_per_row: int(s.seatsPerRow, `section-${i}-seats`, 1, 500),
      };
    });
  }
  return body;
}
