-- Waitlist (docs/waitlist.md, docs/decisions/0020-waitlist.md): when an event or a ticket
-- type is sold out, buyers join its waitlist; every ticket that comes back is kept for the
-- waitlist in the same transaction that returned it (the trigger below) and then offered,
-- in order, to the next waiting entry for a limited time.

-- The organizer's switch; an event without a row has its waitlist on.
CREATE TABLE waitlists (
    event_id   uuid PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    enabled    boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One entry per buyer (customer or email) and event while it is waiting or offered.
-- `ticket_type` names a ticket type (a section's name; NULL: any type of the event).
-- status: waiting -> offered -> used | expired; waiting | offered -> left.
CREATE TABLE waitlist_entries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    event_id         uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    customer_id      uuid REFERENCES customers (id),
    visitor_id       uuid,
    email            text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    ticket_type      text CHECK (length(ticket_type) BETWEEN 1 AND 100),
    quantity         integer NOT NULL CHECK (quantity BETWEEN 1 AND 20),
    status           text NOT NULL DEFAULT 'waiting'
                     CHECK (status IN ('waiting', 'offered', 'used', 'expired', 'left')),
    offered_quantity integer CHECK (offered_quantity BETWEEN 1 AND quantity),
    offered_at       timestamptz,
    offer_expires_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    ended_at         timestamptz,
    CHECK ((status = 'waiting') = (offered_at IS NULL) OR status = 'left'),
    CHECK ((offered_at IS NULL) = (offer_expires_at IS NULL))
);
CREATE UNIQUE INDEX waitlist_one_email ON waitlist_entries (event_id, lower(email))
    WHERE status IN ('waiting', 'offered');
CREATE UNIQUE INDEX waitlist_one_customer ON waitlist_entries (event_id, customer_id)
    WHERE customer_id IS NOT NULL AND status IN ('waiting', 'offered');
CREATE INDEX waitlist_waiting ON waitlist_entries (event_id, seq) WHERE status = 'waiting';
CREATE INDEX waitlist_offers_due ON waitlist_entries (offer_expires_at) WHERE status = 'offered';

-- A ticket kept for the waitlist stays AVAILABLE (sold + held + available = capacity is
-- unchanged) but only the offer it is pinned to (`offer_id`, an entry) may hold it; kept
-- and not yet pinned, nobody may. Holds and orders of everyone else skip kept tickets.
ALTER TABLE tickets
    ADD COLUMN waitlist_kept boolean NOT NULL DEFAULT false,
    ADD COLUMN offer_id uuid;
ALTER TABLE tickets ADD CONSTRAINT tickets_offer_kept CHECK (offer_id IS NULL OR waitlist_kept);
ALTER TABLE tickets ADD CONSTRAINT tickets_kept_available CHECK (NOT waitlist_kept OR status = 'AVAILABLE');
CREATE INDEX tickets_waitlist_kept ON tickets (event_id, id) WHERE waitlist_kept;
CREATE INDEX tickets_offer ON tickets (offer_id) WHERE offer_id IS NOT NULL;

-- Every path that puts a ticket back on sale (a hold expired or cancelled, an order's
-- payment declined, a refund, a reconcile) changes its status to AVAILABLE: here, in that
-- same transaction, the ticket is kept for the waitlist when an entry of its event (and
-- type) is waiting and the waitlist is on. Leaving AVAILABLE clears the marks.
CREATE FUNCTION tickets_keep_for_waitlist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'AVAILABLE' THEN
        NEW.offer_id := NULL;
        NEW.waitlist_kept := EXISTS (
            SELECT 1 FROM waitlist_entries w
            WHERE w.event_id = NEW.event_id AND w.status = 'waiting'
              AND (w.ticket_type IS NULL OR w.ticket_type = NEW.section)
        ) AND NOT EXISTS (
            SELECT 1 FROM waitlists l WHERE l.event_id = NEW.event_id AND NOT l.enabled
        );
    ELSE
        NEW.offer_id := NULL;
        NEW.waitlist_kept := false;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER tickets_keep_for_waitlist
    BEFORE UPDATE OF status ON tickets
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION tickets_keep_for_waitlist();
