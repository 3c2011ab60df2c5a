-- Codes: presale (access) and discount codes of an event, and their uses by holds
-- (reservations/codes/service.py, docs/codes.md). `codes.uses` moves only by the guarded
-- statements below, each in the transaction of the hold (or refund) that causes it.

-- name: insert_code
-- A new code ($2 already upper case); no row when the event already has it.
INSERT INTO codes (event_id, code, kind, percent_off, amount_off_cents, ticket_type, max_uses,
                   valid_from, valid_until)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (event_id, code) DO NOTHING
RETURNING id;

-- name: event_exists
SELECT EXISTS (SELECT 1 FROM events WHERE id = $1);

-- name: list_codes
-- The event's codes with what the organizer tracks ($2: one code, NULL: all): confirmed uses,
-- uses in flight (active holds), revenue (what was paid with it, less what was refunded) and
-- the discount given on the tickets still sold.
SELECT c.id, c.event_id, c.code, c.kind, c.percent_off, c.amount_off_cents, c.ticket_type,
       c.max_uses, c.uses, c.valid_from, c.valid_until, c.active, c.created_at,
       coalesce(u.confirmed, 0) AS confirmed, coalesce(u.held, 0) AS held,
       coalesce(u.discount_cents, 0) AS discount_cents, coalesce(p.revenue_cents, 0) AS revenue_cents
FROM codes c
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE status = 'confirmed') AS confirmed,
           count(*) FILTER (WHERE status = 'held') AS held,
           sum(discount_cents) FILTER (WHERE status = 'confirmed') AS discount_cents
    FROM code_uses WHERE code_id = c.id
) u ON true
LEFT JOIN LATERAL (
    SELECT sum(pu.price_cents - CASE WHEN pu.refunded_at IS NULL THEN 0
                                     ELSE coalesce(pu.refund_cents, 0) END) AS revenue_cents
    FROM code_uses cu JOIN purchases pu ON pu.hold_id = cu.hold_id
    WHERE cu.code_id = c.id
) p ON true
WHERE c.event_id = $1 AND ($2::text IS NULL OR c.code = $2)
ORDER BY c.created_at, c.code;

-- name: find_code
-- A code of the event as a buyer names it ($2 upper case), with whether it may be used now.
SELECT id, event_id, code, kind, percent_off, amount_off_cents, ticket_type, max_uses, uses,
       valid_from, valid_until, active,
       (valid_from IS NULL OR valid_from <= now()) AS started,
       (valid_until IS NULL OR valid_until > now()) AS not_ended,
       (SELECT sales_open_at IS NOT NULL AND sales_open_at > now() FROM events WHERE id = $1)
           AS before_sale
FROM codes
WHERE event_id = $1 AND code = $2;

-- name: update_code
-- The organizer's change: $3 active, $4/$5 set max_uses (flag, value), $6/$7 valid_from,
-- $8/$9 valid_until. A max_uses below the uses taken fails the table's CHECK.
UPDATE codes
SET active = coalesce($3, active),
    max_uses = CASE WHEN $4 THEN $5 ELSE max_uses END,
    valid_from = CASE WHEN $6 THEN $7 ELSE valid_from END,
    valid_until = CASE WHEN $8 THEN $9 ELSE valid_until END
WHERE event_id = $1 AND code = $2
RETURNING id;

-- name: take_use
-- Take one use of the code for a new hold, in the hold's transaction: the guarded UPDATE is
-- the usage limit (concurrent takers queue on the code's row and re-check `uses < max_uses`
-- once they hold it), then the use is recorded. No row: exhausted, deactivated or outside its
-- window by now. $1 code, $2 hold, $3 customer, $4 discount.
WITH taken AS (
    UPDATE codes SET uses = uses + 1
    WHERE id = $1 AND active AND (max_uses IS NULL OR uses < max_uses)
      AND (valid_from IS NULL OR valid_from <= now()) AND (valid_until IS NULL OR valid_until > now())
    RETURNING id
)
INSERT INTO code_uses (code_id, hold_id, customer_id, discount_cents)
SELECT id, $2, $3, $4 FROM taken
RETURNING id;

-- name: release_uses
-- Holds that ended without a sale (expired, cancelled) give their uses back ($1 hold ids).
WITH ended AS (
    UPDATE code_uses SET status = 'released', ended_at = now()
    WHERE hold_id = ANY($1::uuid[]) AND status = 'held'
    RETURNING code_id
), per_code AS (
    SELECT code_id, count(*)::int AS n FROM ended GROUP BY code_id
)
UPDATE codes c SET uses = c.uses - per_code.n
FROM per_code
WHERE c.id = per_code.code_id
RETURNING c.id;

-- name: confirm_use
-- The hold was bought: its use is kept.
UPDATE code_uses SET status = 'confirmed' WHERE hold_id = $1 AND status = 'held';

-- name: lock_use_of_purchase
-- The confirmed use of the hold a purchase was bought with, locked for the refund's
-- transaction (refunds of two tickets of one hold serialise here).
SELECT u.id
FROM code_uses u JOIN purchases p ON p.hold_id = u.hold_id
WHERE p.id = $1 AND u.status = 'confirmed'
FOR UPDATE OF u;

-- name: release_refunded_use
-- Give the use back once every ticket bought with it is refunded ($1 the locked use).
WITH ended AS (
    UPDATE code_uses u SET status = 'refunded', ended_at = now()
    WHERE u.id = $1 AND u.status = 'confirmed'
      AND NOT EXISTS (SELECT 1 FROM purchases p WHERE p.hold_id = u.hold_id AND p.refunded_at IS NULL)
    RETURNING code_id
)
UPDATE codes c SET uses = c.uses - 1
FROM ended
WHERE c.id = ended.code_id
RETURNING c.id;

-- name: uses_of_holds
-- The code each of these holds carries ($1 hold ids), with its rule.
SELECT u.hold_id, u.discount_cents, c.code, c.kind, c.percent_off, c.amount_off_cents, c.ticket_type
FROM code_uses u JOIN codes c ON c.id = u.code_id
WHERE u.hold_id = ANY($1::uuid[]);

