-- The challenge contract's reads (its writes reuse customers, events and ticket primitives).

-- name: count_purchases
SELECT count(*) FROM purchases;

-- name: list_purchases_page
-- Every purchase, newest first, one page: $1 rows after skipping $2.
SELECT p.id, p.customer_id, c.name AS customer_name, p.event_id, e.name AS event_name,
       p.price_cents, p.created_at
FROM purchases p
JOIN customers c ON c.id = p.customer_id
JOIN events e ON e.id = p.event_id
ORDER BY p.created_at DESC, p.id DESC
LIMIT $1 OFFSET $2;
