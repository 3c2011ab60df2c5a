-- E-tickets: a purchase with its event, seat and holder (the view eticket_rows, migration 0007).

-- name: get_eticket
SELECT * FROM eticket_rows WHERE id = $1;

-- name: list_etickets
-- A customer's e-tickets, newest first.
SELECT * FROM eticket_rows WHERE customer_id = $1 ORDER BY created_at DESC, id LIMIT $2;
