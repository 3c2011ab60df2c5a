-- Holds: a customer's tickets kept IN_PROGRESS until confirmed, cancelled or expired.
-- A hold row changes status exactly once (active -> confirmed | cancelled | expired);
-- every change is an UPDATE guarded by `status = 'active'` on the locked row.

-- name: hold_event_terms
-- What a hold request needs to know about its event.
SELECT id, max_per_customer, hold_ttl_s, half_price, closed,
       sales_open_at IS NOT NULL AND sales_open_at > now() AS before_sale
FROM events
WHERE id = $1;

-- name: insert_hold
-- $1 event, $2 customer, $3 quantity, $4 half-price count, $5 total, $6 ttl seconds.
INSERT INTO holds (event_id, customer_id, quantity, half_price_count, total_cents, expires_at)
VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))
RETURNING id, event_id, customer_id, status, quantity, half_price_count, total_cents, expires_at,
          created_at, ended_at, payment_id;

-- name: get_hold
-- With what an extension would add now: the event's hold_extension_s (NULL: its hold_ttl_s),
-- 0 once extended or when ended.
SELECT h.id, h.event_id, h.customer_id, h.status, h.quantity, h.half_price_count, h.total_cents,
       h.expires_at, h.created_at, h.ended_at, h.payment_id, h.extended_at,
       CASE WHEN h.status = 'active' AND h.extended_at IS NULL AND h.expires_at > now()
            THEN coalesce(e.hold_extension_s, e.hold_ttl_s) ELSE 0 END AS extension_s
FROM holds h JOIN events e ON e.id = h.event_id
WHERE h.id = $1;

-- name: lock_hold
-- The row every decision on a hold takes first: confirm, cancel and expiry serialise here.
SELECT id, event_id, customer_id, status, quantity, half_price_count, total_cents, expires_at,
       created_at, ended_at, payment_id, extended_at, expires_at <= now() AS overdue
FROM holds
WHERE id = $1
FOR UPDATE;

-- name: hold_tickets
-- The tickets of a hold: held ones, or once confirmed the ones it bought. Sorted as they
-- were claimed, so the first `half_price_count` are the half-price ones.
SELECT t.id, t.section, t.row_label, t.seat_number, t.price_cents
FROM tickets t
WHERE t.hold_id = $1
UNION
SELECT t.id, t.section, t.row_label, t.seat_number, t.price_cents
FROM purchases p JOIN tickets t ON t.id = p.ticket_id
WHERE p.hold_id = $1
ORDER BY section NULLS FIRST, row_label NULLS FIRST, seat_number NULLS FIRST, id;

-- name: end_hold
-- Move a locked active hold to its final status ($2: confirmed | cancelled | expired).
-- Confirming settles its charge: the marker of a charge in flight goes (mark_charging).
UPDATE holds SET status = $2, ended_at = now(), payment_id = $3,
                 charging_since = CASE WHEN $2 = 'confirmed' THEN NULL ELSE charging_since END
WHERE id = $1 AND status = 'active'
RETURNING id, event_id, customer_id, status, quantity, half_price_count, total_cents, expires_at,
          created_at, ended_at, payment_id;

-- name: expire_hold
-- Expire one hold if it is still active and overdue. Waits for a confirm or cancel holding
-- the row, then re-checks the status: whichever commits first wins.
UPDATE holds SET status = 'expired', ended_at = now()
WHERE id = $1 AND status = 'active' AND expires_at <= now()
RETURNING id, event_id, customer_id, status, quantity, half_price_count, total_cents, expires_at,
          created_at, ended_at, payment_id;

-- name: extend_hold
-- Push a locked, active, not yet overdue and never extended hold's expiry by the event's
-- extension ($1 hold). No row when the event allows none (hold_extension_s = 0).
UPDATE holds h
SET expires_at = h.expires_at + make_interval(secs => coalesce(e.hold_extension_s, e.hold_ttl_s)),
    extended_at = now()
FROM events e
WHERE h.id = $1 AND e.id = h.event_id AND h.status = 'active' AND h.expires_at > now()
  AND h.extended_at IS NULL AND coalesce(e.hold_extension_s, e.hold_ttl_s) > 0
RETURNING h.id, h.event_id, h.customer_id, h.status, h.quantity, h.half_price_count, h.total_cents,
          h.expires_at, h.created_at, h.ended_at, h.payment_id, h.extended_at, 0 AS extension_s;

-- name: hold_due_in
-- Seconds until an active hold is overdue (negative when it already is); no row otherwise.
SELECT extract(epoch FROM expires_at - now())::float8 AS due_in
FROM holds
WHERE id = $1 AND status = 'active';

-- name: expire_overdue_holds
-- Up to $1 overdue active holds, skipping rows a confirm, cancel or expiry is deciding.
UPDATE holds SET status = 'expired', ended_at = now()
WHERE id IN (
    SELECT id FROM holds
    WHERE status = 'active' AND expires_at <= now()
    ORDER BY expires_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
RETURNING id, event_id, customer_id, status, quantity, half_price_count, total_cents, expires_at,
          created_at, ended_at, payment_id;

-- name: mark_charging
-- The confirm's reserve step, on the locked active hold: its card is about to be charged.
-- Cleared when the hold is confirmed (end_hold) or by the reconcile of stranded charges.
UPDATE holds SET charging_since = now() WHERE id = $1;

-- name: stranded_charges
-- Holds whose card was being charged more than $1 seconds ago and never settled (at most $2).
SELECT id, charging_since
FROM holds
WHERE charging_since IS NOT NULL AND charging_since < now() - make_interval(secs => $1)
ORDER BY charging_since
LIMIT $2;

-- name: clear_charging
-- The reconcile found nothing left to settle or refund: the marker it read ($2) goes, unless
-- a newer confirm set it again meanwhile.
UPDATE holds SET charging_since = NULL WHERE id = $1 AND charging_since = $2;

-- name: hold_payment
-- The charge a hold was confirmed with (NULL while unpaid).
SELECT payment_id FROM holds WHERE id = $1;
