-- Holds: a customer's tickets kept IN_PROGRESS until confirmed, cancelled or expired.
-- A hold row changes status exactly once (active -> confirmed | cancelled | expired);
-- every change is an UPDATE guarded by `status = 'active'` on the locked row.

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

-- name: tickets_of_hold
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

-- name: hold_transaction
-- The hold's transaction settings, set in one round trip: its lock timeout ($1), and
-- generic plans. Left to choose, PostgreSQL re-planned `hold_tickets` for every hold (a
-- custom plan costs it ~1.4 ms, as long as running the statement); the generic plan is
-- prepared once per connection and runs as fast, named seats or any (ADR 0022).
SELECT set_config('lock_timeout', $1, true), set_config('plan_cache_mode', 'force_generic_plan', true);

-- name: hold_tickets
-- A new hold in one statement (reservations/holds/service.py `hold_tickets`, inside its
-- transaction): the event's terms, the per-customer allowance, the claim, the per-type
-- allowances, the hold row and the tickets marked held. Lock order as everywhere: the
-- allowance row first (the claims run only once it is counted: an uncorrelated EXISTS is a
-- one-time filter), then tickets, then the customer's type allowances (only ever written
-- under the event allowance row, which serialises one customer's requests).
-- $1 event, $2 customer, $3 how many, $4 named seats (NULL: any $3 seats),
-- $5 half-price count, $6 limit (NULL: the event's max_per_customer; tests pass a bound
-- to switch the allowance guard off), $7 ticket type (NULL: any type on sale now),
-- $8 presale (an access code: before the event's or the types' sale opens too, never after
-- a type's closes), $9 the waitlist offer (an entry) whose kept tickets this hold may take
-- (NULL: none; tickets kept for the waitlist are no one else's). A type sells while the
-- event sells and its own window (docs/ticket-types.md) is open.
-- Returns one row per claimed ticket (or one row of NULL ticket columns), each carrying
-- the verdict columns and the new hold (with what an extension would add); the caller
-- rolls back unless `marked` = $3.
WITH ev AS (
    SELECT id, max_per_customer, hold_ttl_s, hold_extension_s, half_price, closed,
           sales_open_at IS NOT NULL AND sales_open_at > now() AND NOT $8::boolean AS before_sale
    FROM events
    WHERE id = $1
), types AS (
    SELECT name, max_per_customer,
           (sales_open_at IS NULL OR sales_open_at <= now() OR $8::boolean)
           AND (sales_close_at IS NULL OR sales_close_at > now()) AS open
    FROM sections
    WHERE event_id = $1
), ty AS (
    SELECT * FROM types WHERE name = $7::text
), sellable AS (
    SELECT * FROM ev WHERE NOT closed AND NOT before_sale AND ($5::int = 0 OR half_price)
), allowance AS (
    INSERT INTO allowances (customer_id, event_id, taken)
    SELECT $2::uuid, id, $3::int FROM sellable WHERE $3::int <= coalesce($6::int, max_per_customer)
      AND ($7::text IS NULL OR EXISTS (SELECT 1 FROM ty WHERE open))
    ON CONFLICT (customer_id, event_id)
    DO UPDATE SET taken = allowances.taken + EXCLUDED.taken
    WHERE allowances.taken + EXCLUDED.taken <= (SELECT coalesce($6::int, max_per_customer) FROM sellable)
    RETURNING taken
), claimed_any AS (
    SELECT id, section, row_label, seat_number, price_cents
    FROM tickets
    WHERE event_id = $1 AND status = 'AVAILABLE' AND $4::uuid[] IS NULL
      AND (NOT waitlist_kept OR offer_id = $9::uuid)
      AND ($7::text IS NULL OR section = $7::text)
      AND (section IS NULL OR section NOT IN (SELECT name FROM types WHERE NOT open))
      AND EXISTS (SELECT 1 FROM allowance)
    ORDER BY section, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
), claimed_named AS (
    SELECT id, section, row_label, seat_number, price_cents,
           CASE WHEN waitlist_kept AND offer_id IS DISTINCT FROM $9::uuid THEN 'KEPT' ELSE status END AS status
    FROM tickets
    WHERE event_id = $1 AND id = ANY($4::uuid[]) AND EXISTS (SELECT 1 FROM allowance)
    ORDER BY id
    FOR UPDATE
), claimed AS (
    SELECT id, section, row_label, seat_number, price_cents FROM claimed_any
    UNION ALL
    SELECT id, section, row_label, seat_number, price_cents FROM claimed_named
    WHERE status = 'AVAILABLE' AND ($7::text IS NULL OR section = $7::text)
      AND (section IS NULL OR section NOT IN (SELECT name FROM types WHERE NOT open))
), type_need AS (
    -- Tickets per claimed type that has a limit of its own.
    SELECT c.section AS name, count(*)::int AS n, t.max_per_customer
    FROM claimed c JOIN types t ON t.name = c.section
    WHERE t.max_per_customer IS NOT NULL
    GROUP BY c.section, t.max_per_customer
), type_taken AS (
    INSERT INTO type_allowances (customer_id, event_id, ticket_type, taken)
    SELECT $2::uuid, $1::uuid, name, n FROM type_need WHERE n <= max_per_customer
    ON CONFLICT (customer_id, event_id, ticket_type)
    DO UPDATE SET taken = type_allowances.taken + EXCLUDED.taken
    WHERE type_allowances.taken + EXCLUDED.taken
          <= (SELECT max_per_customer FROM types WHERE name = EXCLUDED.ticket_type)
    RETURNING ticket_type
), priced AS (
    -- The first $5 in seat order are half price; "C" collation orders as Python does.
    SELECT price_cents,
           row_number() OVER (ORDER BY section IS NOT NULL, section COLLATE "C", row_label IS NOT NULL,
                              row_label COLLATE "C", seat_number IS NOT NULL, seat_number, id) AS n
    FROM claimed
), hold AS (
    INSERT INTO holds (event_id, customer_id, quantity, half_price_count, total_cents, expires_at)
    SELECT $1, $2, $3, $5,
           (SELECT coalesce(sum(CASE WHEN n <= $5 THEN price_cents / 2 ELSE price_cents END), 0) FROM priced),
           now() + make_interval(secs => hold_ttl_s)
    FROM sellable
    WHERE (SELECT count(*) FROM claimed) = $3
      AND (SELECT count(*) FROM type_need) = (SELECT count(*) FROM type_taken)
    RETURNING id, event_id, customer_id, status, quantity, half_price_count, total_cents, expires_at,
              created_at, ended_at, payment_id
), marked AS (
    UPDATE tickets t SET status = 'IN_PROGRESS', hold_id = hold.id, customer_id = $2
    FROM hold
    WHERE t.id IN (SELECT id FROM claimed) AND t.status = 'AVAILABLE'
    RETURNING t.id
), verdict AS (
    SELECT EXISTS (SELECT 1 FROM ev) AS found,
           ($7::text IS NULL OR EXISTS (SELECT 1 FROM ty)) AS type_found,
           EXISTS (SELECT 1 FROM ev WHERE NOT closed AND NOT before_sale)
           AND ($7::text IS NULL OR EXISTS (SELECT 1 FROM ty WHERE open))
           AND (NOT EXISTS (SELECT 1 FROM types) OR EXISTS (SELECT 1 FROM types WHERE open)) AS on_sale,
           EXISTS (SELECT 1 FROM sellable) AS sellable,
           (SELECT max_per_customer FROM ev) AS max_per_customer,
           EXISTS (SELECT 1 FROM allowance) AS allowed,
           (SELECT count(*) FROM claimed_named) AS named,
           (SELECT count(*) FROM claimed_named n WHERE $7::text IS NOT NULL AND n.section IS DISTINCT FROM $7::text)
               AS other_type,
           (SELECT count(*) FROM claimed_named n WHERE n.section IN (SELECT name FROM types WHERE NOT open))
               AS closed_type,
           (SELECT name FROM type_need WHERE name NOT IN (SELECT ticket_type FROM type_taken) LIMIT 1)
               AS type_over,
           (SELECT max_per_customer FROM type_need WHERE name NOT IN (SELECT ticket_type FROM type_taken) LIMIT 1)
               AS type_limit,
           (SELECT count(*) FROM claimed) AS claimed,
           (SELECT count(*) FROM marked) AS marked
)
SELECT v.*, h.id AS hold_id, h.event_id, h.customer_id, h.status, h.quantity, h.half_price_count,
       h.total_cents, h.expires_at, h.created_at, h.ended_at, h.payment_id,
       (SELECT coalesce(hold_extension_s, hold_ttl_s) FROM ev) AS extension_s,
       c.id, c.section, c.row_label, c.seat_number, c.price_cents
FROM verdict v
LEFT JOIN hold h ON true
LEFT JOIN claimed c ON true;

-- name: customer_holds
-- A customer's holds (not the holds orders reserve under), newest first: $2 per page,
-- before the (created_at, id) of $3/$4 when given. `ticket_rows` are the held or bought
-- tickets of each.
SELECT h.id, h.event_id, h.customer_id, h.status, h.quantity, h.half_price_count, h.total_cents,
       h.expires_at, h.created_at, h.ended_at, h.payment_id
FROM holds h
WHERE h.customer_id = $1
  AND ($3::timestamptz IS NULL OR (h.created_at, h.id) < ($3, $4::uuid))
  AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.hold_id = h.id)
ORDER BY h.created_at DESC, h.id DESC
LIMIT $2;

-- name: holds_tickets
-- The tickets of several holds (held ones, or once confirmed the ones they bought).
SELECT t.hold_id, t.id, t.section, t.row_label, t.seat_number, t.price_cents
FROM tickets t
WHERE t.hold_id = ANY($1::uuid[])
UNION ALL
SELECT p.hold_id, t.id, t.section, t.row_label, t.seat_number, t.price_cents
FROM purchases p JOIN tickets t ON t.id = p.ticket_id
WHERE p.hold_id = ANY($1::uuid[]);

-- name: event_limit
SELECT max_per_customer FROM events WHERE id = $1;

-- name: customer_allowance
SELECT taken FROM allowances WHERE customer_id = $1 AND event_id = $2;

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

-- name: lower_hold_total
-- A new hold's code discount ($2) off its total, in the hold's transaction (never below 0).
UPDATE holds SET total_cents = greatest(total_cents - $2, 0) WHERE id = $1
RETURNING total_cents;

-- name: hold_charging
-- Whether a payment was attempted on the hold and not settled (mark_charging's marker).
SELECT charging_since IS NOT NULL FROM holds WHERE id = $1;

-- name: hold_of_an_order
-- Whether the hold is one an asynchronous order reserves under (its price is the order's).
SELECT EXISTS (SELECT 1 FROM orders WHERE hold_id = $1);
