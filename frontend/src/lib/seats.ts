// The seat map as the page keeps it: the compact snapshot (`?format=compact`) expanded to
// seats, and the `seats` deltas of the event's live socket applied to it.
import type { Seat, SeatMapCompact, SeatsMessage } from "../api/types";

export interface SeatMapState {
  version: number;
  seats: Seat[];
}

const STATUS: Record<string, Seat["status"]> = { a: "available", h: "held", s: "sold" };

export function expandSeatMap(map: SeatMapCompact): SeatMapState {
  const seats: Seat[] = [];
  for (const section of map.sections) {
    for (const row of section.rows) {
      row.ids.forEach((id, i) => {
        seats.push({
          id,
          section: section.name ?? "",
          row: row.label,
          number: row.numbers[i] ?? 0,
          price_cents: section.price_cents,
          status: STATUS[row.status[i] ?? "s"] ?? "sold",
        });
      });
    }
  }
  return { version: map.version, seats };
}

/**
 * The map after a delta: applied when it starts at our version, ignored when we are at
 * or past its version already, and "reload" when versions are missing in between.
 */
export function applySeatDelta(state: SeatMapState, msg: SeatsMessage): SeatMapState | "reload" {
  if (msg.version <= state.version) return state;
  if (msg.since !== state.version) return "reload";
  const changed = new Map(msg.changes.map((c) => [c.id, c.status]));
  const seats = changed.size
    ? state.seats.map((s) => {
        const status = changed.get(s.id);
        return status === undefined || status === s.status ? s : { ...s, status };
      })
    : state.seats;
  return { version: msg.version, seats };
}
