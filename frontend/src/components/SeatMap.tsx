// Seats by section and row. Taken seats update live; the buyer toggles up to `max` free seats.
import { memo, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import type { Seat } from "../api/types";
import { formatMoney } from "../lib/format";

export function seatIsFree(seat: Seat): boolean {
  return String(seat.status).toLowerCase() === "available";
}

interface SectionGroup {
  name: string;
  price: number;
  free: number;
  rows: { label: string; seats: Seat[] }[];
}

export function groupSeats(seats: Seat[]): SectionGroup[] {
  const sections = new Map<string, Map<string, Seat[]>>();
  for (const seat of seats) {
    const rows = sections.get(seat.section) ?? new Map<string, Seat[]>();
    sections.set(seat.section, rows);
    const row = rows.get(seat.row) ?? [];
    rows.set(seat.row, row);
    row.push(seat);
  }
  const natural = (a: string, b: string) => a.localeCompare(b, undefined, { numeric: true });
  return [...sections.entries()].map(([name, rows]) => {
    const all = [...rows.values()].flat();
    return {
      name,
      price: Math.min(...all.map((s) => s.price_cents)),
      free: all.filter(seatIsFree).length,
      rows: [...rows.entries()]
        .sort(([a], [b]) => natural(a, b))
        .map(([label, list]) => ({ label, seats: [...list].sort((x, y) => x.number - y.number) })),
    };
  });
}

/** Memoised: the buy panel re-renders every second (countdowns); the map only when seats change. */
export const SeatMap = memo(function SeatMap({
  seats,
  selected,
  onToggle,
  max,
}: {
  seats: Seat[];
  selected: string[];
  onToggle: (seat: Seat) => void;
  max: number;
}) {
  const groups = useMemo(() => groupSeats(seats), [seats]);
  const full = selected.length >= max;
  return (
    <div className="seatmap">
      <div className="stage" aria-hidden="true">
        Stage
      </div>
      <ul className="legend" aria-label="Legend">
        <li>
          <span className="seat seat-free" aria-hidden="true" /> Free
        </li>
        <li>
          <span className="seat seat-selected" aria-hidden="true" /> Your choice
        </li>
        <li>
          <span className="seat seat-taken" aria-hidden="true" /> Taken
        </li>
      </ul>
      {groups.map((g) => (
        <details key={g.name} className="seat-section" open={g.rows.reduce((n, r) => n + r.seats.length, 0) <= 600}>
          <summary>
            <span className="section-name">{g.name}</span>
            <span className="section-meta">
              {formatMoney(g.price)} · {g.free.toLocaleString("en-US")} free
            </span>
          </summary>
          <ScrollingRows label={`Section ${g.name}`}>
            {g.rows.map((row) => (
              <div key={row.label} className="seat-row">
                <span className="row-label" aria-hidden="true">
                  {row.label}
                </span>
                {row.seats.map((seat) => {
                  const isSelected = selected.includes(seat.id);
                  const free = seatIsFree(seat);
                  const cls = isSelected ? "seat seat-selected" : free ? "seat seat-free" : "seat seat-taken";
                  return (
                    <button
                      key={seat.id}
                      type="button"
                      className={cls}
                      aria-pressed={isSelected}
                      disabled={!isSelected && (!free || full)}
                      aria-label={`${g.name}, row ${row.label}, seat ${seat.number}, ${formatMoney(seat.price_cents)}${
                        free || isSelected ? "" : ", taken"
                      }`}
                      title={`Row ${row.label} seat ${seat.number}`}
                      onClick={() => onToggle(seat)}
                    >
                      <span aria-hidden="true">{seat.number}</span>
                    </button>
                  );
                })}
              </div>
            ))}
          </ScrollingRows>
        </details>
      ))}
    </div>
  );
});

/**
 * A section's rows: wider than a phone, they scroll sideways (never cut off) and say so, with
 * a hint and a shadow on the side that has more seats.
 */
function ScrollingRows({ label, children }: { label: string; children: ReactNode }) {
  const box = useRef<HTMLDivElement>(null);
  const [wide, setWide] = useState(false);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => setWide(el.scrollWidth > el.clientWidth + 1);
    measure();
    if (typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return (
    <>
      {wide && (
        <p className="hint seat-scroll-hint" data-testid="seat-scroll-hint">
          More seats to the side: swipe the rows (or scroll) to see them all →
        </p>
      )}
      <div ref={box} className={wide ? "seat-rows seat-rows-wide" : "seat-rows"} role="group" aria-label={label} tabIndex={wide ? 0 : undefined}>
        {children}
      </div>
    </>
  );
}
