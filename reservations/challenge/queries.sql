-- The challenge contract's reads (its writes reuse customers, events and ticket primitives).
-- The challenge face sees only its own customers and events (`face = 'challenge'`).

-- name: challenge_client_name
SELECT name FROM customers WHERE id = $1 AND face = 'challenge';

-- name: count_purchases
-- Purchases of challenge clients of challenge events.
SELECT count(*)
FROM purchases p
JOIN customers c ON c.id = p.customer_id
JOIN events e ON e.id = p.event_id
WHERE c.face = 'challenge' AND e.face = 'challenge';

-- name: list_purchases_page
-- Purchases of challenge clients of challenge events, newest first, one page: $1 rows
-- after skipping $2.
SELECT p.id, p.customer_id, c.name AS customer_name, p.event_id, e.name AS event_name,
       p.price_cents, p.created_at
FROM purchases p
JOIN customers c ON c.id = p.customer_id
JOIN events e ON e.id = p.event_id
WHERE c.face = 'challenge' AND e.face = 'challenge'
ORDER BY p.created_at DESC, p.id DESC
LIMIT $1 OFFSET $2;
