-- E-tickets: a purchase with its event, seat and holder (the view eticket_rows, migration 0007).

-- name: get_eticket
-- With the event's cancel policy, which the holder sees beside the ticket.
SELECT r.*, e.buyer_cancel_until, e.cancel_fee_cents
FROM eticket_rows r JOIN events e ON e.id = r.event_id
WHERE r.id = $1;

-- name: list_etickets
-- A customer's e-tickets, newest first.
SELECT r.*, e.buyer_cancel_until, e.cancel_fee_cents
FROM eticket_rows r JOIN events e ON e.id = r.event_id
WHERE r.customer_id = $1 ORDER BY r.created_at DESC, r.id LIMIT $2;

-- name: list_event_purchases
-- An event's purchases for the organizer, newest first: all ($2 and $3 null), one purchase
-- ($2), or buyers whose email or name matches the ILIKE pattern $3. Page: LIMIT $4 OFFSET $5.
SELECT * FROM eticket_rows
WHERE event_id = $1
  AND ($2::uuid IS NULL OR id = $2)
  AND ($3::text IS NULL OR email ILIKE $3 OR holder ILIKE $3)
ORDER BY created_at DESC, id DESC
LIMIT $4 OFFSET $5;

-- name: count_event_purchases
SELECT count(*) FROM eticket_rows
WHERE event_id = $1
  AND ($2::uuid IS NULL OR id = $2)
  AND ($3::text IS NULL OR email ILIKE $3 OR holder ILIKE $3);

-- name: event_exists
SELECT 1 FROM events WHERE id = $1;
