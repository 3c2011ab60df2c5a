-- Ticket primitives shared by holds, the challenge purchase and the order worker.
-- Every statement here runs inside a transaction owned by a service function.

-- name: take_allowance
-- Count $3 more tickets against the customer's limit $4; returns no row when over it.
INSERT INTO allowances (customer_id, event_id, taken)
SELECT $1::uuid, $2::uuid, $3::int WHERE $3::int <= $4::int
ON CONFLICT (customer_id, event_id)
DO UPDATE SET taken = allowances.taken + EXCLUDED.taken
WHERE allowances.taken + EXCLUDED.taken <= $4
RETURNING taken;

-- name: release_allowance
UPDATE allowances SET taken = greatest(taken - $3, 0)
WHERE customer_id = $1 AND event_id = $2;

-- name: release_type_allowances
-- Give back the per-type allowances (type_allowances) of ended holds $1: their tickets, by
-- type, of the types with a limit of their own. Runs after the event allowance rows and
-- before the tickets are released (they still carry the hold id).
UPDATE type_allowances a SET taken = greatest(a.taken - c.n, 0)
FROM (
    SELECT h.customer_id, h.event_id, t.section, count(*)::int AS n
    FROM holds h
    JOIN tickets t ON t.hold_id = h.id
    JOIN sections s ON s.event_id = t.event_id AND s.name = t.section AND s.max_per_customer IS NOT NULL
    WHERE h.id = ANY($1::uuid[])
    GROUP BY h.customer_id, h.event_id, t.section
    ORDER BY h.customer_id, h.event_id, t.section
) c
WHERE a.customer_id = c.customer_id AND a.event_id = c.event_id AND a.ticket_type = c.section;

-- name: release_ticket_type_allowances
-- The same for booked tickets $1 going back on sale (a refund), before they are released.
UPDATE type_allowances a SET taken = greatest(a.taken - c.n, 0)
FROM (
    SELECT t.customer_id, t.event_id, t.section, count(*)::int AS n
    FROM tickets t
    JOIN sections s ON s.event_id = t.event_id AND s.name = t.section AND s.max_per_customer IS NOT NULL
    WHERE t.id = ANY($1::uuid[]) AND t.customer_id IS NOT NULL
    GROUP BY t.customer_id, t.event_id, t.section
) c
WHERE a.customer_id = c.customer_id AND a.event_id = c.event_id AND a.ticket_type = c.section;

-- name: claim_any
-- Up to $2 available tickets of event $1 (of section $3 when given), skipping rows other
-- transactions are claiming, so concurrent buyers never wait on each other. The order is
-- the partial index tickets_available's own, so a claim reads a few index entries instead of
-- sorting every ticket still on sale (23 ms per claim at 50,000 tickets).
-- Without $3 (the order worker, the challenge purchase) only the ticket types any buyer may
-- take now: neither outside their own sale window nor with a per-customer limit of their own
-- (those are sold by holds naming them; docs/ticket-types.md).
SELECT id, section, row_label, seat_number, price_cents
FROM tickets
WHERE event_id = $1 AND status = 'AVAILABLE'
  AND NOT waitlist_kept  -- kept for the waitlist's offers (reservations/waitlist/)
  AND ($3::text IS NULL OR section = $3)
  AND ($3::text IS NOT NULL OR section IS NULL OR section NOT IN (
      SELECT name FROM sections s
      WHERE s.event_id = $1 AND (s.max_per_customer IS NOT NULL OR s.sales_open_at > now()
                                  OR s.sales_close_at <= now())))
ORDER BY section, id
LIMIT $2
FOR UPDATE SKIP LOCKED;

-- name: count_available
-- The AVAILABLE tickets claim_any may take ($2: of that section); tickets kept for the
-- waitlist's offers are on sale to no one else.
SELECT count(*) FROM tickets
WHERE event_id = $1 AND status = 'AVAILABLE' AND NOT waitlist_kept
  AND ($2::text IS NULL OR section = $2)
  AND ($2::text IS NOT NULL OR section IS NULL OR section NOT IN (
      SELECT name FROM sections s
      WHERE s.event_id = $1 AND (s.max_per_customer IS NOT NULL OR s.sales_open_at > now()
                                  OR s.sales_close_at <= now())));

-- name: claim_seats
-- Named seats, locked in one fixed order (by id) so that two buyers asking for
-- overlapping seats in opposite orders cannot deadlock.
SELECT id, section, row_label, seat_number, price_cents, status
FROM tickets
WHERE event_id = $1 AND id = ANY($2::uuid[])
ORDER BY id
FOR UPDATE;

-- name: mark_held
UPDATE tickets SET status = 'IN_PROGRESS', hold_id = $2, customer_id = $3
WHERE id = ANY($1::uuid[]) AND status = 'AVAILABLE';

-- name: mark_booked
-- Book tickets straight from AVAILABLE (challenge purchase, order worker).
UPDATE tickets SET status = 'BOOKED', customer_id = $2
WHERE id = ANY($1::uuid[]) AND status = 'AVAILABLE';

-- name: book_hold
UPDATE tickets SET status = 'BOOKED', hold_id = NULL
WHERE hold_id = $1 AND status = 'IN_PROGRESS'
RETURNING id, section, row_label, seat_number, price_cents;

-- name: release_hold
UPDATE tickets SET status = 'AVAILABLE', hold_id = NULL, customer_id = NULL
WHERE hold_id = $1 AND status = 'IN_PROGRESS';

-- name: release_booked
-- A refunded ticket goes back on sale (reservations/refunds/).
UPDATE tickets SET status = 'AVAILABLE', customer_id = NULL, hold_id = NULL
WHERE id = ANY($1::uuid[]) AND status = 'BOOKED';

-- name: insert_purchases
-- One purchase per ticket; UNIQUE (ticket_id) makes a second sale impossible.
INSERT INTO purchases (event_id, customer_id, ticket_id, hold_id, order_id, price_cents, half_price)
SELECT $1, $2, t.ticket_id, $3, $4, t.price_cents, t.half_price
FROM unnest($5::uuid[], $6::int[], $7::bool[]) AS t(ticket_id, price_cents, half_price)
RETURNING id, event_id, customer_id, ticket_id, price_cents, half_price, created_at;

-- name: event_stock
-- The event's capacity and its tickets by status, one row per ticket type (section; NULL
-- for general admission without types). No row: no such event. `available` leaves out the
-- tickets kept for the waitlist's offers (`kept`); `on_sale`: the type's own sale window
-- (docs/ticket-types.md) is open now (true for tickets of no type); `turns_in_ms`: when
-- it next opens or closes, the counters' shelf life whatever the stock does.
WITH counts AS (
    -- Counted per type first: one pass over the event's tickets, the types looked up after.
    SELECT section,
           count(*) FILTER (WHERE status = 'BOOKED')      AS sold,
           count(*) FILTER (WHERE status = 'IN_PROGRESS') AS held,
           count(*) FILTER (WHERE status = 'AVAILABLE' AND NOT waitlist_kept) AS available,
           count(*) FILTER (WHERE waitlist_kept)          AS kept
    FROM tickets
    WHERE event_id = $1
    GROUP BY section
)
SELECT e.capacity, c.section,
       coalesce(c.sold, 0) AS sold, coalesce(c.held, 0) AS held,
       coalesce(c.available, 0) AS available, coalesce(c.kept, 0) AS kept,
       (s.sales_open_at IS NULL OR s.sales_open_at <= now())
       AND (s.sales_close_at IS NULL OR s.sales_close_at > now()) AS on_sale,
       -- in milliseconds from now: when the type's window next opens or closes (NULL: never)
       (extract(epoch FROM least(CASE WHEN s.sales_open_at > now() THEN s.sales_open_at END,
                                 CASE WHEN s.sales_close_at > now() THEN s.sales_close_at END) - now())
        * 1000)::bigint AS turns_in_ms
FROM events e
LEFT JOIN counts c ON true
LEFT JOIN sections s ON s.event_id = e.id AND s.name = c.section
WHERE e.id = $1
ORDER BY c.section;

-- name: set_lock_timeout
SELECT set_config('lock_timeout', $1, true);

-- name: set_timeouts
-- Lock and statement timeouts of the current transaction (a query class of its own).
SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true);
