-- Check-in at the door. One indexed UPDATE decides a scan: of 50 doors scanning one ticket
-- at once, exactly one sees a row come back.

-- name: check_in
UPDATE purchases SET checked_in_at = now(), checked_in_door = $3
WHERE id = $1 AND event_id = $2 AND checked_in_at IS NULL
  AND refunded_at IS NULL AND refund_claimed_at IS NULL
RETURNING checked_in_at, checked_in_door;

-- name: check_in_at
-- A scan made offline at $4, uploaded later: the earliest scan of a ticket is its check-in.
-- It takes the place of a later one already recorded (first scan wins, by when it was made).
UPDATE purchases SET checked_in_at = $4, checked_in_door = $3
WHERE id = $1 AND event_id = $2 AND (checked_in_at IS NULL OR checked_in_at > $4)
  AND refunded_at IS NULL AND refund_claimed_at IS NULL
RETURNING checked_in_at, checked_in_door;

-- name: scan_state
-- Why a scan was not admitted.
SELECT event_id, checked_in_at, checked_in_door, refunded_at, refund_claimed_at
FROM purchases WHERE id = $1;

-- name: event_exists
SELECT cancelled_at FROM events WHERE id = $1;

-- name: list_revoked
-- Refunded (or being refunded) e-tickets of an event, changed since $2 (all when null).
SELECT id, coalesce(refunded_at, refund_claimed_at) AS at
FROM purchases
WHERE event_id = $1 AND (refunded_at IS NOT NULL OR refund_claimed_at IS NOT NULL)
  AND ($2::timestamptz IS NULL OR coalesce(refunded_at, refund_claimed_at) >= $2)
ORDER BY at, id;
