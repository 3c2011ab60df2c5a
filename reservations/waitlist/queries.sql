-- Waitlist (reservations/waitlist/): entries, the organizer's switch, and the offers of
-- tickets kept for it (tickets.waitlist_kept / tickets.offer_id, core/migrations/0013).

-- name: event_terms
-- What a join checks: the event, its limit, whether it sells, its switch.
SELECT e.id, e.name, e.max_per_customer, e.closed,
       e.sales_open_at IS NOT NULL AND e.sales_open_at > now() AS before_sale,
       coalesce(w.enabled, true) AS enabled,
       EXISTS (SELECT 1 FROM sections s WHERE s.event_id = e.id) AS typed
FROM events e LEFT JOIN waitlists w ON w.event_id = e.id
WHERE e.id = $1;

-- name: type_exists
SELECT EXISTS (SELECT 1 FROM sections WHERE event_id = $1 AND name = $2);

-- name: on_sale_count
-- Tickets anyone may hold now, of type $2 (NULL: any).
SELECT count(*) FROM tickets
WHERE event_id = $1 AND status = 'AVAILABLE' AND NOT waitlist_kept
  AND ($2::text IS NULL OR section = $2);

-- name: customer_email
SELECT email FROM customers WHERE id = $1;

-- name: insert_entry
-- A new entry; no row when this customer or address already has one (open) for the event.
INSERT INTO waitlist_entries (event_id, customer_id, visitor_id, email, ticket_type, quantity)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING
RETURNING id;

-- name: open_entry_of
-- The open (waiting or offered) entry of customer $2 or address $3 for event $1.
SELECT id FROM waitlist_entries
WHERE event_id = $1 AND status IN ('waiting', 'offered')
  AND (customer_id = $2 OR lower(email) = lower($3))
ORDER BY seq
LIMIT 1;

-- name: entry
-- One entry with its place among the waiting (1 = next). An offer whose every pinned ticket
-- its holder has held reads `used` at once (the round records it when the offer's time ends).
SELECT w.id, w.event_id, w.customer_id, w.email, w.ticket_type, w.quantity,
       CASE WHEN w.status = 'offered' AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.offer_id = w.id)
            THEN 'used' ELSE w.status END AS status,
       w.offered_quantity, w.offered_at, w.offer_expires_at, w.created_at,
       CASE WHEN w.status = 'waiting' THEN
           (SELECT count(*) FROM waitlist_entries a
            WHERE a.event_id = w.event_id AND a.status = 'waiting' AND a.seq <= w.seq)
       END AS position
FROM waitlist_entries w
WHERE w.id = $1;

-- name: latest_entry_of_customer
-- The customer's newest entry for the event (open or ended).
SELECT id FROM waitlist_entries
WHERE event_id = $1 AND customer_id = $2
ORDER BY seq DESC
LIMIT 1;

-- name: leave_entry
-- Leave an open entry; an offer's tickets go on to the next (offer_returned_tickets).
UPDATE waitlist_entries SET status = 'left', ended_at = now()
WHERE id = $1 AND status IN ('waiting', 'offered')
RETURNING id, status;

-- name: unpin_offers
-- The tickets still pinned to these ended offers stay kept, for the next entries.
UPDATE tickets SET offer_id = NULL
WHERE offer_id = ANY($1::uuid[]) AND status = 'AVAILABLE';

-- name: list_entries
-- The organizer's view: open entries first in line order, then ended ones, newest first.
SELECT w.id, w.customer_id, w.email, w.ticket_type, w.quantity,
       CASE WHEN w.status = 'offered' AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.offer_id = w.id)
            THEN 'used' ELSE w.status END AS status,
       w.offered_quantity,
       w.offered_at, w.offer_expires_at, w.created_at,
       CASE WHEN w.status = 'waiting' THEN
           row_number() OVER (PARTITION BY w.status = 'waiting' ORDER BY w.seq)
       END AS position
FROM waitlist_entries w
WHERE w.event_id = $1
ORDER BY w.status NOT IN ('waiting', 'offered'), w.status <> 'offered',
         CASE WHEN w.status IN ('waiting', 'offered') THEN w.seq END, w.seq DESC
LIMIT $2;

-- name: waitlist_counts
SELECT coalesce((SELECT enabled FROM waitlists WHERE event_id = $1), true) AS enabled,
       (SELECT count(*) FROM waitlist_entries WHERE event_id = $1 AND status = 'waiting') AS waiting,
       (SELECT count(*) FROM waitlist_entries WHERE event_id = $1 AND status = 'offered') AS offered,
       (SELECT count(*) FROM tickets WHERE event_id = $1 AND waitlist_kept) AS kept;

-- name: set_enabled
INSERT INTO waitlists (event_id, enabled) VALUES ($1, $2)
ON CONFLICT (event_id) DO UPDATE SET enabled = EXCLUDED.enabled, updated_at = now()
RETURNING event_id, enabled;

-- name: event_exists
SELECT EXISTS (SELECT 1 FROM events WHERE id = $1);

-- name: lock_event_waitlist
-- One offer round per event at a time: every decision on an event's offers runs under it.
SELECT pg_advisory_xact_lock(hashtextextended('waitlist:' || $1::uuid::text, 0));

-- name: expire_due_offers
-- Offers of event $1 past their time: `used` when their holder held every pinned ticket,
-- else `expired` (what is left of them passes on).
UPDATE waitlist_entries w
SET status = CASE WHEN EXISTS (SELECT 1 FROM tickets t WHERE t.offer_id = w.id AND t.status = 'AVAILABLE')
                  THEN 'expired' ELSE 'used' END,
    ended_at = now()
WHERE w.event_id = $1 AND w.status = 'offered' AND w.offer_expires_at <= now()
RETURNING w.id, w.status;

-- name: free_kept_tickets
-- Kept tickets of event $1 not pinned to any offer, locked for this round.
SELECT id, section FROM tickets
WHERE event_id = $1 AND waitlist_kept AND offer_id IS NULL AND status = 'AVAILABLE'
ORDER BY section, id
FOR UPDATE;

-- name: waiting_entries
-- The waiting entries of event $1 in line order (at most $2).
SELECT id, customer_id, email, ticket_type, quantity
FROM waitlist_entries
WHERE event_id = $1 AND status = 'waiting'
ORDER BY seq
LIMIT $2;

-- name: pin_tickets
-- Pin kept tickets $2 to the offer $1 (only while still kept and unpinned).
UPDATE tickets SET offer_id = $1
WHERE id = ANY($2::uuid[]) AND waitlist_kept AND offer_id IS NULL AND status = 'AVAILABLE';

-- name: make_offer
-- The entry $1 is offered $2 tickets for $3 seconds.
UPDATE waitlist_entries
SET status = 'offered', offered_quantity = $2, offered_at = now(),
    offer_expires_at = now() + make_interval(secs => $3)
WHERE id = $1 AND status = 'waiting'
RETURNING id, event_id, customer_id, visitor_id, email, ticket_type, quantity, offered_quantity, offer_expires_at;

-- name: release_kept
-- Kept tickets no waiting entry wants go on sale to everyone.
UPDATE tickets SET waitlist_kept = false
WHERE id = ANY($1::uuid[]) AND waitlist_kept AND offer_id IS NULL AND status = 'AVAILABLE';

-- name: events_with_offer_work
-- Events with an offer past its time or a kept ticket not pinned yet (the sweep's work).
SELECT DISTINCT event_id FROM waitlist_entries
WHERE status = 'offered' AND offer_expires_at <= now()
UNION
SELECT DISTINCT event_id FROM tickets
WHERE waitlist_kept AND offer_id IS NULL AND status = 'AVAILABLE';

-- name: offer_of
-- An offer as its admission is checked: status, event, holder, expiry.
SELECT id, event_id, customer_id, status, offer_expires_at > now() AS live
FROM waitlist_entries
WHERE id = $1;

-- name: event_name
SELECT name FROM events WHERE id = $1;

-- name: waitlist_enabled
SELECT coalesce((SELECT enabled FROM waitlists WHERE event_id = $1), true);

-- name: any_waiting
SELECT EXISTS (SELECT 1 FROM waitlist_entries WHERE event_id = $1 AND status = 'waiting');
