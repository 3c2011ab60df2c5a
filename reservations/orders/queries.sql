-- Orders: the worker decides accepted orders in batches. A batch first RESERVES (order rows,
-- allowances, tickets held under one hold per order), then, after the charges, SETTLES
-- (book and record purchases, or release). Rows are locked in a fixed order (orders by id,
-- allowances by customer id; tickets with SKIP LOCKED) so concurrent batches never deadlock.

-- name: order_gate_meta
-- What the accept gate needs to know about one event, with its ticket types' own windows.
SELECT id, max_per_customer, waiting_room, closed,
       (SELECT array_agg(s.name ORDER BY s.position) FROM sections s WHERE s.event_id = events.id) AS type_names,
       (SELECT array_agg((extract(epoch FROM s.sales_open_at) * 1000)::bigint ORDER BY s.position)
        FROM sections s WHERE s.event_id = events.id) AS type_opens_ms,
       (SELECT array_agg((extract(epoch FROM s.sales_close_at) * 1000)::bigint ORDER BY s.position)
        FROM sections s WHERE s.event_id = events.id) AS type_closes_ms,
       (extract(epoch FROM sales_open_at) * 1000)::bigint AS opens_ms,
       (extract(epoch FROM starts_at) * 1000)::bigint AS starts_ms
FROM events
WHERE id = $1;

-- name: insert_orders
-- Write the accepted orders once; a retried job finds its row already there.
INSERT INTO orders (id, event_id, customer_id, quantity, accepted_at, request_id, seq, ticket_type)
SELECT x.id, x.event_id, x.customer_id, x.quantity, x.accepted_at, x.request_id, x.seq, x.ticket_type
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int[], $5::timestamptz[], $6::text[], $7::bigint[],
            $8::text[])
     AS x(id, event_id, customer_id, quantity, accepted_at, request_id, seq, ticket_type)
WHERE EXISTS (SELECT 1 FROM events e WHERE e.id = x.event_id)
  AND EXISTS (SELECT 1 FROM customers c WHERE c.id = x.customer_id)
ORDER BY x.id
ON CONFLICT (id) DO NOTHING;

-- name: lock_orders
-- The orders of a batch with their hold, locked in id order: a duplicate job of the same
-- order (another worker) waits here and then sees what the first one did.
SELECT o.id, o.event_id, o.customer_id, o.quantity, o.status, o.hold_id, o.seq, o.accepted_at,
       h.status AS hold_status, h.total_cents, o.ticket_type, s.max_per_customer AS type_limit,
       e.max_per_customer, e.closed OR e.starts_at <= now() AS event_closed
FROM orders o
JOIN events e ON e.id = o.event_id
LEFT JOIN sections s ON s.event_id = o.event_id AND s.name = o.ticket_type
LEFT JOIN holds h ON h.id = o.hold_id
WHERE o.id = ANY($1::uuid[])
ORDER BY o.id
FOR UPDATE OF o;

-- name: lock_event_reserves
-- One reserve step per event at a time, across every orders worker (first come, first
-- served: the step counts the event's available tickets and gives them out in seq order).
SELECT pg_advisory_xact_lock(hashtextextended('orders.reserve:' || $1::uuid, 0));

-- name: get_sold_out_seq
-- The first order (by seq) of the event rejected `sold_out`, if any, among the orders of
-- ticket type $2 ('' = orders without a type).
SELECT after_seq FROM order_sold_out WHERE event_id = $1 AND ticket_type = $2;

-- name: set_sold_out_seq
INSERT INTO order_sold_out (event_id, after_seq, ticket_type) VALUES ($1, $2, $3)
ON CONFLICT (event_id, ticket_type)
DO UPDATE SET after_seq = least(order_sold_out.after_seq, EXCLUDED.after_seq);

-- name: take_order_type_allowances
-- The orders' tickets of ticket type $3 against the type's own limit $5 ($1 customers,
-- distinct and sorted; $4 quantities), after their event allowance rows. Returns the
-- customers whose orders fit.
INSERT INTO type_allowances (customer_id, event_id, ticket_type, taken)
SELECT x.customer_id, $2, $3, x.quantity
FROM unnest($1::uuid[], $4::int[]) AS x(customer_id, quantity)
WHERE x.quantity <= $5
ORDER BY x.customer_id
ON CONFLICT (customer_id, event_id, ticket_type)
DO UPDATE SET taken = type_allowances.taken + EXCLUDED.taken
WHERE type_allowances.taken + EXCLUDED.taken <= $5
RETURNING customer_id;

-- name: release_order_type_allowances
-- Give back the type allowance of orders that got nothing ($1 customers, distinct; $4 quantities).
UPDATE type_allowances a SET taken = greatest(a.taken - x.quantity, 0)
FROM unnest($1::uuid[], $4::int[]) AS x(customer_id, quantity)
WHERE a.customer_id = x.customer_id AND a.event_id = $2 AND a.ticket_type = $3;

-- name: order_hold_type_counts
-- Tickets of the holds $1 per customer and limited type (read before they are released).
SELECT h.customer_id, h.event_id, t.section, count(*)::int AS n
FROM holds h
JOIN tickets t ON t.hold_id = h.id
JOIN sections s ON s.event_id = t.event_id AND s.name = t.section AND s.max_per_customer IS NOT NULL
WHERE h.id = ANY($1::uuid[])
GROUP BY h.customer_id, h.event_id, t.section
ORDER BY h.customer_id, h.event_id, t.section;

-- name: release_type_counts
-- Give back type allowances: $1 customers, $2 events, $3 types, $4 tickets.
UPDATE type_allowances a SET taken = greatest(a.taken - x.n, 0)
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[]) AS x(customer_id, event_id, ticket_type, n)
WHERE a.customer_id = x.customer_id AND a.event_id = x.event_id AND a.ticket_type = x.ticket_type;

-- name: take_order_allowances
-- Count each customer's tickets against the event's limit $4 ($1 customers, distinct and
-- sorted; $3 quantities). Returns the customers whose orders fit.
INSERT INTO allowances (customer_id, event_id, taken)
SELECT x.customer_id, $2, x.quantity
FROM unnest($1::uuid[], $3::int[]) AS x(customer_id, quantity)
WHERE x.quantity <= $4
ORDER BY x.customer_id
ON CONFLICT (customer_id, event_id)
DO UPDATE SET taken = allowances.taken + EXCLUDED.taken
WHERE allowances.taken + EXCLUDED.taken <= $4
RETURNING customer_id;

-- name: release_order_allowances
-- Give back allowance of orders that got nothing ($1 customers, distinct; $3 quantities).
UPDATE allowances a SET taken = greatest(a.taken - x.quantity, 0)
FROM unnest($1::uuid[], $3::int[]) AS x(customer_id, quantity)
WHERE a.customer_id = x.customer_id AND a.event_id = $2;

-- name: insert_order_holds
-- One hold per reserved order, long enough to outlive a worker restart ($6 seconds).
INSERT INTO holds (id, event_id, customer_id, quantity, total_cents, expires_at)
SELECT x.id, $1, x.customer_id, x.quantity, x.total_cents, now() + make_interval(secs => $6)
FROM unnest($2::uuid[], $3::uuid[], $4::int[], $5::int[]) AS x(id, customer_id, quantity, total_cents);

-- name: hold_order_tickets
-- $1 ticket ids, $2 their hold, $3 their customer.
UPDATE tickets SET status = 'IN_PROGRESS', hold_id = x.hold_id, customer_id = x.customer_id
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS x(ticket_id, hold_id, customer_id)
WHERE tickets.id = x.ticket_id AND tickets.status = 'AVAILABLE';

-- name: set_order_holds
UPDATE orders SET hold_id = x.hold_id
FROM unnest($1::uuid[], $2::uuid[]) AS x(order_id, hold_id)
WHERE orders.id = x.order_id;

-- name: reject_orders
-- Decide queued orders as rejected ($1 ids, $2 reasons).
UPDATE orders SET status = 'rejected', reason = x.reason, decided_at = now()
FROM unnest($1::uuid[], $2::text[]) AS x(order_id, reason)
WHERE orders.id = x.order_id AND orders.status = 'queued';

-- name: lock_order_holds
-- The orders to settle with their hold, both locked: the hold sweeper skips a locked hold,
-- so a settlement and an expiry never both happen.
SELECT o.id, o.event_id, o.customer_id, o.quantity, o.status, o.hold_id, h.status AS hold_status
FROM orders o
JOIN holds h ON h.id = o.hold_id
WHERE o.id = ANY($1::uuid[])
ORDER BY o.id
FOR UPDATE OF o, h;

-- name: book_order_holds
-- Held tickets of the holds $1 become BOOKED; returns each with the hold it came from.
WITH held AS (
    SELECT id, hold_id FROM tickets WHERE hold_id = ANY($1::uuid[]) AND status = 'IN_PROGRESS'
)
UPDATE tickets t SET status = 'BOOKED', hold_id = NULL
FROM held
WHERE t.id = held.id
RETURNING t.id, held.hold_id, t.price_cents;

-- name: release_order_holds
-- Held tickets of the holds $1 go back on sale.
UPDATE tickets SET status = 'AVAILABLE', hold_id = NULL, customer_id = NULL
WHERE hold_id = ANY($1::uuid[]) AND status = 'IN_PROGRESS';

-- name: insert_order_purchases
-- One purchase per ticket; UNIQUE (ticket_id) makes a second sale impossible.
INSERT INTO purchases (event_id, customer_id, ticket_id, hold_id, order_id, price_cents)
SELECT x.event_id, x.customer_id, x.ticket_id, x.hold_id, x.order_id, x.price_cents
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::int[])
     AS x(event_id, customer_id, ticket_id, hold_id, order_id, price_cents);

-- name: end_order_holds
-- $1 holds, $2 final status (confirmed | cancelled), $3 payment ids.
UPDATE holds SET status = x.status, ended_at = now(), payment_id = x.payment_id
FROM unnest($1::uuid[], $2::text[], $3::text[]) AS x(hold_id, status, payment_id)
WHERE holds.id = x.hold_id AND holds.status = 'active';

-- name: confirm_order_rows
UPDATE orders SET status = 'confirmed', payment_id = x.payment_id, decided_at = now()
FROM unnest($1::uuid[], $2::text[]) AS x(order_id, payment_id)
WHERE orders.id = x.order_id AND orders.status = 'queued';

-- name: get_orders
SELECT o.id, o.event_id, o.customer_id, o.quantity, o.status, o.reason, o.accepted_at, o.decided_at,
       o.payment_id, o.hold_id, h.total_cents, c.name AS customer_name, o.ticket_type
FROM orders o
JOIN customers c ON c.id = o.customer_id
LEFT JOIN holds h ON h.id = o.hold_id
WHERE o.id = ANY($1::uuid[]);

-- name: get_order_purchases
SELECT p.id, p.order_id, p.ticket_id, t.section, t.row_label, t.seat_number, p.price_cents, p.created_at
FROM purchases p
JOIN tickets t ON t.id = p.ticket_id
WHERE p.order_id = ANY($1::uuid[])
ORDER BY p.order_id, t.section NULLS FIRST, t.row_label NULLS FIRST, t.seat_number NULLS FIRST, t.id;

-- name: queued_orders_before
-- Orders written but still undecided, accepted before $1 (for the reconcile job).
SELECT id FROM orders WHERE status = 'queued' AND accepted_at < $1 ORDER BY accepted_at LIMIT $2;

-- name: orders_past_reserve
-- Of these orders, those whose reserve step has committed: tickets held, or decided.
SELECT id FROM orders WHERE id = ANY($1::uuid[]) AND (status <> 'queued' OR hold_id IS NOT NULL);

-- Reconcile and invariant check (cron): read-only scans of the truth in PostgreSQL, plus
-- the one row each check records.

-- name: all_order_gate_meta
-- The order gate's facts of every event (see order_gate_meta). `sane` is false for a row
-- with an infinite instant (stored before dates were bounded): its milliseconds are null.
SELECT id, max_per_customer, waiting_room, closed,
       (SELECT array_agg(s.name ORDER BY s.position) FROM sections s WHERE s.event_id = events.id) AS type_names,
       (SELECT array_agg((extract(epoch FROM s.sales_open_at) * 1000)::bigint ORDER BY s.position)
        FROM sections s WHERE s.event_id = events.id) AS type_opens_ms,
       (SELECT array_agg((extract(epoch FROM s.sales_close_at) * 1000)::bigint ORDER BY s.position)
        FROM sections s WHERE s.event_id = events.id) AS type_closes_ms,
       CASE WHEN isfinite(sales_open_at) THEN (extract(epoch FROM sales_open_at) * 1000)::bigint END
           AS opens_ms,
       CASE WHEN isfinite(starts_at) THEN (extract(epoch FROM starts_at) * 1000)::bigint END AS starts_ms,
       isfinite(starts_at) AND (sales_open_at IS NULL OR isfinite(sales_open_at)) AS sane
FROM events;

-- name: check_event_counts
-- Per event: capacity, tickets by status, ticket rows and purchases.
SELECT e.id, e.capacity,
       count(t.id) FILTER (WHERE t.status = 'BOOKED')      AS sold,
       count(t.id) FILTER (WHERE t.status = 'IN_PROGRESS') AS held,
       count(t.id) FILTER (WHERE t.status = 'AVAILABLE')   AS available,
       (SELECT count(*) FROM purchases p WHERE p.event_id = e.id) AS purchases
FROM events e
LEFT JOIN tickets t ON t.event_id = e.id
GROUP BY e.id;

-- name: all_types_available
-- Every ticket type's AVAILABLE tickets (the order gate's per-type bound, rebuilt by reconcile).
SELECT s.event_id, s.name, count(t.id) FILTER (WHERE t.status = 'AVAILABLE') AS available
FROM sections s
LEFT JOIN tickets t ON t.event_id = s.event_id AND t.section = s.name
GROUP BY s.event_id, s.name;

-- name: check_tickets_sold_twice
-- A ticket with more than one purchase (UNIQUE forbids it; checked all the same).
SELECT ticket_id, count(*) AS purchases FROM purchases GROUP BY ticket_id HAVING count(*) > 1 LIMIT $1;

-- name: check_purchases_of_unbooked
-- Purchases whose ticket is not BOOKED, or booked for someone else.
SELECT p.id AS purchase_id, p.ticket_id, t.status
FROM purchases p JOIN tickets t ON t.id = p.ticket_id
WHERE t.status <> 'BOOKED' OR t.customer_id IS DISTINCT FROM p.customer_id
LIMIT $1;

-- name: check_customers_over_limit
-- Customers holding or owning more tickets of an event than its per-customer limit.
SELECT t.event_id, t.customer_id, count(*) AS tickets, e.max_per_customer
FROM tickets t JOIN events e ON e.id = t.event_id
WHERE t.customer_id IS NOT NULL
GROUP BY t.event_id, t.customer_id, e.max_per_customer
HAVING count(*) > e.max_per_customer
LIMIT $1;

-- name: check_type_counts
-- Per ticket type (docs/ticket-types.md) whose tickets do not add up to its capacity:
-- its tickets by status.
SELECT s.event_id, s.name, s.capacity,
       count(t.id) FILTER (WHERE t.status = 'BOOKED')      AS sold,
       count(t.id) FILTER (WHERE t.status = 'IN_PROGRESS') AS held,
       count(t.id) FILTER (WHERE t.status = 'AVAILABLE')   AS available
FROM sections s
LEFT JOIN tickets t ON t.event_id = s.event_id AND t.section = s.name
GROUP BY s.event_id, s.name, s.capacity
HAVING count(t.id) <> s.capacity
LIMIT $1;

-- name: check_customers_over_type_limit
-- Customers holding or owning more tickets of a type than the type's own limit.
SELECT t.event_id, t.section, t.customer_id, count(*) AS tickets, s.max_per_customer
FROM tickets t JOIN sections s ON s.event_id = t.event_id AND s.name = t.section
WHERE t.customer_id IS NOT NULL AND s.max_per_customer IS NOT NULL
GROUP BY t.event_id, t.section, t.customer_id, s.max_per_customer
HAVING count(*) > s.max_per_customer
LIMIT $1;

-- name: check_held_tickets_match_holds
-- Holds whose IN_PROGRESS tickets do not match them: an active hold without exactly
-- `quantity` tickets, or an ended one still keeping some (a hold ends exactly once).
SELECT h.id, h.status, h.quantity, count(t.id) AS held
FROM holds h
LEFT JOIN tickets t ON t.hold_id = h.id AND t.status = 'IN_PROGRESS'
WHERE h.status = 'active' OR t.id IS NOT NULL
GROUP BY h.id
HAVING count(t.id) <> CASE WHEN h.status = 'active' THEN h.quantity ELSE 0 END
LIMIT $1;

-- name: check_confirmed_orders
-- Confirmed orders without exactly `quantity` purchases, or without a payment.
SELECT o.id, o.quantity, count(p.id) AS purchases, o.payment_id
FROM orders o LEFT JOIN purchases p ON p.order_id = o.id
WHERE o.status = 'confirmed'
GROUP BY o.id
HAVING count(p.id) <> o.quantity OR o.payment_id IS NULL
LIMIT $1;

-- name: check_payments_reused
-- One provider charge recorded for two orders or holds.
SELECT payment_id, count(*) AS uses
FROM (SELECT payment_id FROM orders WHERE payment_id IS NOT NULL
      UNION ALL
      SELECT payment_id FROM holds WHERE payment_id IS NOT NULL AND id NOT IN (
          SELECT hold_id FROM orders WHERE hold_id IS NOT NULL)) AS used
GROUP BY payment_id
HAVING count(*) > 1
LIMIT $1;

-- name: insert_invariant_check
INSERT INTO invariant_checks (ok, events, violations)
VALUES ($1, $2, $3::jsonb)
RETURNING id, checked_at, ok, events, violations;
