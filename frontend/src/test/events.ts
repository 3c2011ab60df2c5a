// An event as GET /api/events/{id} answers it, for the page tests: general admission, on
// sale, no waiting room. Each test names only what it changes.
export function anEvent<T extends object>(over: T): typeof BASE & T {
  return { ...BASE, ...over };
}

const BASE = {
  id: "e1",
  name: "Show de Rock",
  venue: "Arena",
  starts_at: "2030-08-15T20:00:00Z",
  sales_open_at: null as string | null,
  price_cents: 5000,
  capacity: 100,
  seated: false,
  sections: [] as unknown[],
  max_per_customer: 2,
  hold_ttl_s: 300,
  half_price: false,
  closed: false,
  waiting_room: { enabled: false, admission_factor: 1, prequeue: "fifo", max_admit_per_s: 100, paused: false },
  live: { capacity: 100, sold: 0, held: 0, available: 100, status: "on_sale" },
};
