-- Orders: the worker reserves an order's tickets under a hold row before it charges, so a
-- retried job resumes with the same tickets; the request id follows the order into logs.

ALTER TABLE orders ADD COLUMN hold_id uuid REFERENCES holds (id);
ALTER TABLE orders ADD COLUMN request_id text CHECK (length(request_id) <= 64);

-- A payment that could not be taken at all (the provider kept failing, or the card number
-- was lost with Redis) ends the order too, with its own reason.
ALTER TABLE orders DROP CONSTRAINT orders_reason_check;
ALTER TABLE orders ADD CONSTRAINT orders_reason_check
    CHECK (reason IN ('sold_out', 'limit_reached', 'payment_declined', 'payment_unavailable', 'event_closed'));

CREATE INDEX orders_queued ON orders (accepted_at) WHERE status = 'queued';
CREATE INDEX orders_hold ON orders (hold_id) WHERE hold_id IS NOT NULL;
CREATE INDEX purchases_order ON purchases (order_id) WHERE order_id IS NOT NULL;
