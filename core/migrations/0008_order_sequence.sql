-- Orders on a stream, first come first served (docs/decisions/0009-orders-on-a-stream.md).
-- `seq`: the order's place among its event's orders, assigned by the accept gate.
-- `order_sold_out`: per event, the first order (by seq) rejected `sold_out`; every later
-- order of the event is rejected `sold_out` too, so none of them can take a ticket that
-- comes back afterwards ahead of it.

ALTER TABLE orders ADD COLUMN seq bigint;

CREATE TABLE order_sold_out (
    event_id uuid PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    after_seq bigint NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
