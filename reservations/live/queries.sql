-- The public feed of recent purchases.

-- name: list_recent_purchases
-- The latest $1 purchases (of event $2 when given), newest first, with the buyer's name.
SELECT p.id, p.event_id, e.name AS event_name, c.name AS buyer_name, p.created_at
FROM purchases p
JOIN events e ON e.id = p.event_id
JOIN customers c ON c.id = p.customer_id
WHERE ($2::uuid IS NULL OR p.event_id = $2)
ORDER BY p.created_at DESC, p.id DESC
LIMIT $1;

-- name: recent_orders_of_customer
-- The ids of customer $1's latest $2 orders, newest first (the snapshot of `/api/ws`).
SELECT id FROM orders WHERE customer_id = $1 ORDER BY accepted_at DESC LIMIT $2;
