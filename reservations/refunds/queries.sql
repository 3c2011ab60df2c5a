-- Refunds: claim (one winner), pay back at the provider with nothing open, settle.

-- name: get_refundable
SELECT p.id, p.event_id, p.customer_id, p.ticket_id, p.price_cents, p.checked_in_at,
       p.refund_claimed_at, p.refunded_at, p.refund_cents, p.refund_reason, p.refund_id,
       e.buyer_cancel_until, e.cancel_fee_cents, e.cancelled_at,
       coalesce(h.payment_id, o.payment_id) AS charge_id
FROM purchases p
JOIN events e ON e.id = p.event_id
LEFT JOIN holds h ON h.id = p.hold_id
LEFT JOIN orders o ON o.id = p.order_id
WHERE p.id = $1;

-- name: claim_refund
-- Exactly one caller wins a refund; a claim older than $4 seconds (its process died) may
-- be taken over. The first claim fixes the amount and the reason.
UPDATE purchases
SET refund_claimed_at = now(),
    refund_cents = coalesce(refund_cents, $2),
    refund_reason = coalesce(refund_reason, $3)
WHERE id = $1 AND refunded_at IS NULL
  AND (refund_claimed_at IS NULL OR refund_claimed_at < now() - make_interval(secs => $4))
RETURNING refund_cents, refund_reason;

-- name: unclaim_refund
-- The provider gave no answer: let a retry claim it at once (same provider key, same amount).
UPDATE purchases SET refund_claimed_at = NULL WHERE id = $1 AND refunded_at IS NULL;

-- name: settle_refund
UPDATE purchases SET refunded_at = now(), refund_id = $2
WHERE id = $1 AND refunded_at IS NULL AND refund_claimed_at IS NOT NULL
RETURNING id, event_id, customer_id, ticket_id, refunded_at, refund_cents, refund_reason;

-- name: count_available
SELECT count(*) FROM tickets WHERE event_id = $1 AND status = 'AVAILABLE' AND NOT waitlist_kept;

-- name: cancel_event
UPDATE events SET closed = true, cancelled_at = coalesce(cancelled_at, now())
WHERE id = $1
RETURNING cancelled_at;

-- name: unrefunded_purchases
-- The next purchases of a cancelled event still to refund.
SELECT id FROM purchases
WHERE event_id = $1 AND refunded_at IS NULL
ORDER BY created_at, id
LIMIT $2;

-- name: count_unrefunded
SELECT count(*) FROM purchases WHERE event_id = $1 AND refunded_at IS NULL;
