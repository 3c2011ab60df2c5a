-- After the sale (docs/after-sale.md): e-tickets are purchases; check-in, refunds, the
-- organizer's refund policy and cancellation, and the receipt outbox.

-- A refunded purchase keeps its row (reports count it) and its ticket goes back on sale, so
-- a ticket is unique among the purchases that are not refunded: still never sold twice.
ALTER TABLE purchases DROP CONSTRAINT purchases_ticket_id_key;

ALTER TABLE purchases
    ADD COLUMN refund_claimed_at timestamptz,  -- a refund in progress (its claimer calls the provider)
    ADD COLUMN refunded_at       timestamptz,
    ADD COLUMN refund_cents      integer CHECK (refund_cents >= 0),
    ADD COLUMN refund_id         text CHECK (length(refund_id) <= 100),
    ADD COLUMN refund_reason     text CHECK (refund_reason IN ('buyer', 'organizer', 'event_cancelled')),
    ADD COLUMN checked_in_at     timestamptz,
    ADD COLUMN checked_in_door   text CHECK (length(checked_in_door) <= 100),
    ADD COLUMN receipt_queued_at timestamptz,
    -- A claimed refund fixes its amount and reason; a refunded purchase always has both.
    ADD CONSTRAINT purchases_refund_whole CHECK (refunded_at IS NULL OR (refund_reason IS NOT NULL AND refund_cents IS NOT NULL));

CREATE UNIQUE INDEX purchases_ticket_sold ON purchases (ticket_id) WHERE refunded_at IS NULL;
CREATE INDEX purchases_refunded ON purchases (event_id, refunded_at) WHERE refunded_at IS NOT NULL;
-- The receipt outbox: purchases whose receipt is not queued yet. Existing sales get none.
UPDATE purchases SET receipt_queued_at = created_at;
CREATE INDEX purchases_receipt_due ON purchases (created_at) WHERE receipt_queued_at IS NULL;

ALTER TABLE events
    ADD COLUMN cancelled_at       timestamptz,
    ADD COLUMN buyer_cancel_until timestamptz,   -- NULL: buyers cannot cancel themselves
    ADD COLUMN cancel_fee_cents   integer NOT NULL DEFAULT 0 CHECK (cancel_fee_cents >= 0);

-- An e-ticket as everything after the sale reads it: a purchase with its event, seat and holder.
CREATE VIEW eticket_rows AS
SELECT p.id, p.event_id, p.customer_id, p.ticket_id, p.price_cents, p.half_price, p.created_at,
       p.refunded_at, p.refund_claimed_at, p.refund_cents, p.refund_reason,
       p.checked_in_at, p.checked_in_door,
       e.name AS event_name, e.venue, e.starts_at, e.cancelled_at,
       t.section, t.row_label, t.seat_number,
       c.name AS holder, c.email, c.password_hash IS NOT NULL AS has_login
FROM purchases p
JOIN events e ON e.id = p.event_id
JOIN tickets t ON t.id = p.ticket_id
JOIN customers c ON c.id = p.customer_id;
