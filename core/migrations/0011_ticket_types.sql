-- Ticket types (issue 19, docs/ticket-types.md, ADR 0018). A ticket type is a row of
-- `sections`, named by `name` (the API's `ticket_type`): general admission by quantity
-- (`kind` general: unlabelled tickets) or labelled seats (`kind` seated). Each type may
-- have its own sale window and per-customer limit; NULL means the event's.
ALTER TABLE sections
    ADD COLUMN kind text NOT NULL DEFAULT 'general' CHECK (kind IN ('general', 'seated')),
    ADD COLUMN sales_open_at timestamptz,
    ADD COLUMN sales_close_at timestamptz,
    ADD COLUMN max_per_customer integer CHECK (max_per_customer BETWEEN 1 AND 20),
    ADD CONSTRAINT sections_window CHECK (sales_close_at IS NULL OR sales_open_at IS NULL
                                          OR sales_open_at < sales_close_at);

-- Sections written before: seated when their tickets carry seat numbers.
UPDATE sections s SET kind = 'seated'
WHERE EXISTS (SELECT 1 FROM tickets t
              WHERE t.event_id = s.event_id AND t.section = s.name AND t.seat_number IS NOT NULL);

-- The per-type limit: how many tickets of one type a customer holds or owns, for the types
-- with a limit of their own. Counted with the same guarded upsert as `allowances`, always
-- after the customer's event allowance row (which serialises one customer's requests), so
-- the two rows are taken in one order and never deadlock.
CREATE TABLE type_allowances (
    customer_id uuid NOT NULL REFERENCES customers (id),
    event_id    uuid NOT NULL,
    ticket_type text NOT NULL,
    taken       integer NOT NULL CHECK (taken >= 0),
    PRIMARY KEY (customer_id, event_id, ticket_type),
    FOREIGN KEY (event_id, ticket_type) REFERENCES sections (event_id, name) ON DELETE CASCADE
);

-- Orders name a type too (NULL: any type any buyer may take now). First come, first served
-- holds per type: the first order rejected `sold_out` is remembered per event and type
-- ('' = orders without a type).
ALTER TABLE orders ADD COLUMN ticket_type text CHECK (length(ticket_type) BETWEEN 1 AND 100);
ALTER TABLE order_sold_out ADD COLUMN ticket_type text NOT NULL DEFAULT '';
ALTER TABLE order_sold_out DROP CONSTRAINT order_sold_out_pkey;
ALTER TABLE order_sold_out ADD PRIMARY KEY (event_id, ticket_type);
