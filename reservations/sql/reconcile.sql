-- Reconcile and invariant check (cron): read-only scans of the truth in PostgreSQL, plus
-- the one row each check records.

-- name: all_order_gate_meta
-- The order gate's facts of every event (see order_gate_meta).
SELECT id, max_per_customer, waiting_room, closed,
       (extract(epoch FROM sales_open_at) * 1000)::bigint AS opens_ms,
       (extract(epoch FROM starts_at) * 1000)::bigint AS starts_ms
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
