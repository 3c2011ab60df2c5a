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

-- name: claim_any
-- Up to $2 available tickets of event $1 (of section $3 when given), skipping rows other
-- transactions are claiming, so concurrent buyers never wait on each other. The order is
-- the partial index tickets_available's own, so a claim reads a few index entries instead of
-- sorting every ticket still on sale (23 ms per claim at 50,000 tickets).
SELECT id, section, row_label, seat_number, price_cents
FROM tickets
WHERE event_id = $1 AND status = 'AVAILABLE' AND ($3::text IS NULL OR section = $3)
  AND NOT waitlist_kept  -- kept for the waitlist's offers (reservations/waitlist/)
ORDER BY section, id
LIMIT $2
FOR UPDATE SKIP LOCKED;

-- name: count_available
-- On sale to anyone: tickets kept for the waitlist's offers are not.
SELECT count(*) FROM tickets
WHERE event_id = $1 AND status = 'AVAILABLE' AND ($2::text IS NULL OR section = $2) AND NOT waitlist_kept;

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
SELECT e.capacity,
       count(*) FILTER (WHERE t.status = 'BOOKED')      AS sold,
       count(*) FILTER (WHERE t.status = 'IN_PROGRESS') AS held,
       count(*) FILTER (WHERE t.status = 'AVAILABLE' AND NOT t.waitlist_kept) AS available,
       count(*) FILTER (WHERE t.waitlist_kept)          AS kept
FROM events e LEFT JOIN tickets t ON t.event_id = e.id
WHERE e.id = $1
GROUP BY e.id;

-- name: set_lock_timeout
SELECT set_config('lock_timeout', $1, true);

-- name: set_timeouts
-- Lock and statement timeouts of the current transaction (a query class of its own).
SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true);
