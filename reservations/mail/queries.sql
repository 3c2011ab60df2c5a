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
SELECT * FROM eticket_rows
WHERE id = ANY($1::uuid[]) AND has_login
ORDER BY customer_id, created_at, id;
