-- Events, their sections and the generation of their ticket rows.

-- name: insert_event
-- ON CONFLICT lets the seed run twice; a new event always gets a fresh id.
INSERT INTO events (id, name, venue, starts_at, sales_open_at, price_cents, capacity, seated,
                    max_per_customer, hold_ttl_s, half_price, waiting_room, face, hold_extension_s)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (id) DO NOTHING
RETURNING id, name, venue, starts_at, sales_open_at, price_cents, capacity, seated, max_per_customer,
          hold_ttl_s, half_price, waiting_room,
          closed, face, created_at;

-- name: insert_section
-- A ticket type (docs/ticket-types.md): $6 kind, $7/$8 its sale window, $9 its limit.
INSERT INTO sections (event_id, name, price_cents, capacity, position, kind, sales_open_at,
                      sales_close_at, max_per_customer)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: insert_unlabeled_tickets
-- $4 unlabeled tickets (general admission, or a section sold without seat numbers).
INSERT INTO tickets (event_id, section, price_cents)
SELECT $1, $2, $3 FROM generate_series(1, $4);

-- name: insert_seated_tickets
-- Rows labelled A..Z, AA..ZZ (up to 702 rows), seats numbered 1..$5 in each row.
INSERT INTO tickets (event_id, section, row_label, seat_number, price_cents)
SELECT $1, $2,
       CASE WHEN r <= 26 THEN chr(64 + r)
            ELSE chr(64 + (r - 1) / 26) || chr(65 + (r - 1) % 26) END,
       n, $3
FROM generate_series(1, $4) AS r, generate_series(1, $5) AS n;

-- name: get_event
SELECT id, name, venue, starts_at, sales_open_at, price_cents, capacity, seated, max_per_customer,
       hold_ttl_s, half_price, waiting_room,
       closed, face, created_at, buyer_cancel_until, cancel_fee_cents, cancelled_at
FROM events
WHERE id = $1;

-- name: list_events
-- Events starting in [$1, $2) (either bound may be null), by start time, at most $3.
SELECT id, name, venue, starts_at, sales_open_at, price_cents, capacity, seated, max_per_customer,
       hold_ttl_s, half_price, waiting_room,
       closed, face, created_at, buyer_cancel_until, cancel_fee_cents, cancelled_at
FROM events
WHERE ($1::timestamptz IS NULL OR starts_at >= $1)
  AND ($2::timestamptz IS NULL OR starts_at < $2)
ORDER BY starts_at, id
LIMIT $3;

-- name: list_events_stock
-- Ticket counts of several events at once, per ticket type (section; NULL for general
-- admission without types). Events without tickets are absent.
SELECT event_id, section,
       count(*) FILTER (WHERE status = 'BOOKED')      AS sold,
       count(*) FILTER (WHERE status = 'IN_PROGRESS') AS held,
       count(*) FILTER (WHERE status = 'AVAILABLE' AND NOT waitlist_kept) AS available
FROM tickets
WHERE event_id = ANY($1::uuid[])
GROUP BY event_id, section;

-- name: list_sections
SELECT event_id, name, price_cents, capacity, kind, sales_open_at, sales_close_at, max_per_customer
FROM sections
WHERE event_id = ANY($1::uuid[])
ORDER BY event_id, position;

-- name: list_seats
-- Labelled tickets of an event (of section $2 when given), in section, row and seat order.
-- A seat kept for the waitlist (reservations/waitlist/) is no one else's: drawn as held.
SELECT t.id, t.section, t.row_label, t.seat_number, t.price_cents,
       CASE WHEN t.waitlist_kept THEN 'IN_PROGRESS' ELSE t.status END AS status
FROM tickets t
LEFT JOIN sections s ON s.event_id = t.event_id AND s.name = t.section
WHERE t.event_id = $1 AND t.seat_number IS NOT NULL AND ($2::text IS NULL OR t.section = $2)
ORDER BY s.position, length(t.row_label), t.row_label, t.seat_number;

-- name: seat_statuses
-- A status letter per labelled ticket of the event in id order (`a` available, `h` held or
-- kept for the waitlist, `s` sold), and how many: what the live push compares with what it
-- announced last (seatmap.py `seat_changes`). One short string instead of every seat row.
SELECT coalesce(string_agg(CASE WHEN waitlist_kept OR status = 'IN_PROGRESS' THEN 'h'
                                WHEN status = 'BOOKED' THEN 's' ELSE 'a' END, '' ORDER BY id), '')
FROM tickets
WHERE event_id = $1 AND seat_number IS NOT NULL;

-- name: seat_ids
-- The ids of the event's labelled tickets in id order (the order of `seat_statuses`).
SELECT id FROM tickets WHERE event_id = $1 AND seat_number IS NOT NULL ORDER BY id;

-- Organizer management (management.py): edits, the sales report.

-- name: lock_event_for_change
SELECT id, name, venue, starts_at, sales_open_at, price_cents, capacity, seated, closed, cancelled_at,
       buyer_cancel_until, cancel_fee_cents,
       EXISTS (SELECT 1 FROM purchases p WHERE p.event_id = events.id) AS has_sales,
       EXISTS (SELECT 1 FROM tickets t WHERE t.event_id = events.id AND t.status <> 'AVAILABLE') AS has_holds
FROM events WHERE id = $1
FOR UPDATE;

-- name: update_event
UPDATE events SET name = $2, venue = $3, starts_at = $4, sales_open_at = $5, max_per_customer = $6,
                  hold_ttl_s = $7, half_price = $8, closed = $9, buyer_cancel_until = $10,
                  cancel_fee_cents = $11, price_cents = $12, capacity = $13
WHERE id = $1;

-- name: lock_ticket_type
-- A ticket type's own terms, locked for a change (docs/ticket-types.md).
SELECT name, sales_open_at, sales_close_at, max_per_customer
FROM sections WHERE event_id = $1 AND name = $2
FOR UPDATE;

-- name: update_ticket_type
UPDATE sections SET sales_open_at = $3, sales_close_at = $4, max_per_customer = $5
WHERE event_id = $1 AND name = $2;

-- name: reprice_tickets
UPDATE tickets SET price_cents = $2 WHERE event_id = $1 AND status = 'AVAILABLE';

-- name: drop_available_tickets
-- Fewer tickets before the first sale: $2 available unlabeled tickets go.
DELETE FROM tickets
WHERE id IN (SELECT id FROM tickets WHERE event_id = $1 AND status = 'AVAILABLE' LIMIT $2);

-- name: event_policy
SELECT buyer_cancel_until, cancel_fee_cents, cancelled_at FROM events WHERE id = $1;

-- name: report_stock
SELECT coalesce(section, '') AS section,
       count(*) AS capacity,
       count(*) FILTER (WHERE status = 'BOOKED')      AS sold,
       count(*) FILTER (WHERE status = 'IN_PROGRESS') AS held,
       count(*) FILTER (WHERE status = 'AVAILABLE')   AS available
FROM tickets WHERE event_id = $1
GROUP BY 1 ORDER BY 1;

-- name: report_sales
-- Per section: revenue is what was kept (prices of sales not refunded, plus fees kept).
SELECT coalesce(t.section, '') AS section,
       count(*) AS purchases,
       coalesce(sum(p.price_cents - CASE WHEN p.refunded_at IS NULL THEN 0 ELSE p.refund_cents END), 0)
           AS revenue_cents,
       count(*) FILTER (WHERE p.refunded_at IS NOT NULL) AS refunds,
       coalesce(sum(p.refund_cents) FILTER (WHERE p.refunded_at IS NOT NULL), 0) AS refunded_cents,
       count(*) FILTER (WHERE p.checked_in_at IS NOT NULL) AS checked_in
FROM purchases p JOIN tickets t ON t.id = p.ticket_id
WHERE p.event_id = $1
GROUP BY 1 ORDER BY 1;

-- name: report_over_time
-- Sales and refunds by $2 ('hour' or 'day').
SELECT bucket, sum(sold)::int AS sold, sum(refunded)::int AS refunded, sum(cents)::bigint AS revenue_cents
FROM (
    SELECT date_trunc($2, created_at) AS bucket, 1 AS sold, 0 AS refunded, price_cents AS cents
    FROM purchases WHERE event_id = $1
    UNION ALL
    SELECT date_trunc($2, refunded_at), 0, 1, -refund_cents
    FROM purchases WHERE event_id = $1 AND refunded_at IS NOT NULL
) AS moves
GROUP BY bucket ORDER BY bucket;

-- name: set_bulk_timeout
-- The statement timeout of the current transaction's bulk statements (BULK_STATEMENT_TIMEOUT_MS).
SELECT set_config('statement_timeout', $1, true);
