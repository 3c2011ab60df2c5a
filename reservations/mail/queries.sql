-- Email: the receipt outbox and what notices need to know.

-- name: take_due_receipts
-- Mark up to $1 purchases whose receipt is not queued yet (oldest first) and return them
-- with what a receipt shows; concurrent sweeps skip each other's rows.
WITH due AS (
    SELECT id FROM purchases
    WHERE receipt_queued_at IS NULL
    ORDER BY created_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE purchases p SET receipt_queued_at = now()
FROM due
WHERE p.id = due.id
RETURNING p.id;

-- name: mail_purchases
-- Purchases with the holder's address, for receipts and notices; accounts only (challenge
-- clients have no login and no address of their own to verify).
SELECT p.id, p.event_id, p.customer_id, p.ticket_id, p.price_cents, p.half_price, p.created_at,
       p.refunded_at, p.refund_claimed_at, p.checked_in_at, p.checked_in_door,
       p.refund_cents, p.refund_reason,
       e.name AS event_name, e.venue, e.starts_at, e.cancelled_at,
       t.section, t.row_label, t.seat_number,
       c.name AS holder, c.email
FROM purchases p
JOIN events e ON e.id = p.event_id
JOIN tickets t ON t.id = p.ticket_id
JOIN customers c ON c.id = p.customer_id
WHERE p.id = ANY($1::uuid[]) AND c.password_hash IS NOT NULL
ORDER BY p.customer_id, p.created_at, p.id;
