-- Customers: accounts of the product API and clients of the challenge contract (one table).

-- name: insert_customer
-- A login account; the partial unique index on lower(email) refuses a second one.
INSERT INTO customers (name, email, cpf, password_hash, face)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, name, email, cpf, created_at;

-- name: get_login
SELECT id, name, email, password_hash
FROM customers
WHERE lower(email) = lower($1) AND password_hash IS NOT NULL;

-- name: get_customer
SELECT id, name, email, cpf, face, created_at
FROM customers
WHERE id = $1;

-- name: list_customer_purchases
-- A customer's purchases, newest first, with the event and the ticket's seat labels.
SELECT p.id, p.event_id, e.name AS event_name, p.price_cents, p.half_price,
       t.section, t.row_label, t.seat_number, p.created_at
FROM purchases p
JOIN events e ON e.id = p.event_id
JOIN tickets t ON t.id = p.ticket_id
WHERE p.customer_id = $1
ORDER BY p.created_at DESC, p.id DESC;

-- name: seed_customer
-- A challenge client with a fixed id (seed data); running the seed twice changes nothing.
INSERT INTO customers (id, name, email, cpf, face)
VALUES ($1, $2, $3, $4, 'challenge')
ON CONFLICT (id) DO NOTHING;

-- name: customer_name
SELECT name FROM customers WHERE id = $1;
