-- E-tickets: a purchase with its event, seat and holder.

-- name: get_eticket
SELECT p.id, p.event_id, p.customer_id, p.ticket_id, p.price_cents, p.half_price, p.created_at,
       p.refunded_at, p.refund_claimed_at, p.checked_in_at, p.checked_in_door,
       e.name AS event_name, e.venue, e.starts_at, e.cancelled_at,
       t.section, t.row_label, t.seat_number,
       c.name AS holder, c.email
FROM purchases p
JOIN events e ON e.id = p.event_id
JOIN tickets t ON t.id = p.ticket_id
JOIN customers c ON c.id = p.customer_id
WHERE p.id = $1;

-- name: list_etickets
-- A customer's e-tickets, newest first.
SELECT p.id, p.event_id, p.customer_id, p.ticket_id, p.price_cents, p.half_price, p.created_at,
       p.refunded_at, p.refund_claimed_at, p.checked_in_at, p.checked_in_door,
       e.name AS event_name, e.venue, e.starts_at, e.cancelled_at,
       t.section, t.row_label, t.seat_number,
       c.name AS holder, c.email
FROM purchases p
JOIN events e ON e.id = p.event_id
JOIN tickets t ON t.id = p.ticket_id
JOIN customers c ON c.id = p.customer_id
WHERE p.customer_id = $1
ORDER BY p.created_at DESC, p.id
LIMIT $2;
