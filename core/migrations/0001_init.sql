-- CrowdPass schema. PostgreSQL constraints are the last word on every invariant.

CREATE TABLE customers (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    cpf           text CHECK (cpf ~ '^[0-9]{11}$'),
    password_hash text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- Accounts that can log in have a unique email; challenge clients (no password) may repeat one.
CREATE UNIQUE INDEX customers_login_email ON customers (lower(email)) WHERE password_hash IS NOT NULL;

CREATE TABLE events (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    venue            text NOT NULL DEFAULT '',
    starts_at        timestamptz NOT NULL,
    sales_open_at    timestamptz,
    price_cents      integer NOT NULL CHECK (price_cents >= 0),
    capacity         integer NOT NULL CHECK (capacity > 0),
    seated           boolean NOT NULL DEFAULT false,
    max_per_customer integer NOT NULL DEFAULT 1 CHECK (max_per_customer > 0),
    hold_ttl_s       integer NOT NULL DEFAULT 300 CHECK (hold_ttl_s BETWEEN 5 AND 3600),
    half_price       boolean NOT NULL DEFAULT false,
    waiting_room     boolean NOT NULL DEFAULT false,
    admission_factor double precision NOT NULL DEFAULT 1.0 CHECK (admission_factor > 0),
    max_admit_per_s  integer NOT NULL DEFAULT 100 CHECK (max_admit_per_s > 0),
    prequeue         text NOT NULL DEFAULT 'fifo' CHECK (prequeue IN ('fifo', 'lottery')),
    paused           boolean NOT NULL DEFAULT false,
    closed           boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sections (
    event_id    uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    price_cents integer NOT NULL CHECK (price_cents >= 0),
    capacity    integer NOT NULL CHECK (capacity > 0),
    position    integer NOT NULL,
    PRIMARY KEY (event_id, name)
);

CREATE TABLE holds (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id         uuid NOT NULL REFERENCES events (id),
    customer_id      uuid NOT NULL REFERENCES customers (id),
    status           text NOT NULL DEFAULT 'active'
                     CHECK (status IN ('active', 'confirmed', 'cancelled', 'expired')),
    quantity         integer NOT NULL CHECK (quantity > 0),
    half_price_count integer NOT NULL DEFAULT 0 CHECK (half_price_count BETWEEN 0 AND quantity),
    total_cents      integer NOT NULL CHECK (total_cents >= 0),
    expires_at       timestamptz NOT NULL,
    payment_id       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    ended_at         timestamptz,
    CHECK ((status = 'active') = (ended_at IS NULL))
);
CREATE INDEX holds_active_expiry ON holds (expires_at) WHERE status = 'active';
CREATE INDEX holds_customer ON holds (customer_id, created_at DESC);

CREATE TABLE orders (
    id              uuid PRIMARY KEY,
    event_id        uuid NOT NULL REFERENCES events (id),
    customer_id     uuid NOT NULL REFERENCES customers (id),
    quantity        integer NOT NULL CHECK (quantity > 0),
    status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'confirmed', 'rejected')),
    reason          text CHECK (reason IN ('sold_out', 'limit_reached', 'payment_declined', 'event_closed')),
    payment_id      text,
    accepted_at     timestamptz NOT NULL DEFAULT now(),
    decided_at      timestamptz,
    CHECK ((status = 'rejected') = (reason IS NOT NULL))
);
CREATE INDEX orders_customer ON orders (customer_id, accepted_at DESC);

CREATE TABLE purchases (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id    uuid NOT NULL REFERENCES events (id),
    customer_id uuid NOT NULL REFERENCES customers (id),
    ticket_id   uuid NOT NULL,
    hold_id     uuid REFERENCES holds (id),
    order_id    uuid REFERENCES orders (id),
    price_cents integer NOT NULL CHECK (price_cents >= 0),
    half_price  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ticket_id)  -- nothing is sold twice
);
CREATE INDEX purchases_recent ON purchases (created_at DESC, id DESC);
CREATE INDEX purchases_customer ON purchases (customer_id, created_at DESC);
CREATE INDEX purchases_event ON purchases (event_id);

CREATE TABLE tickets (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id    uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    section     text,
    row_label   text,
    seat_number integer,
    price_cents integer NOT NULL CHECK (price_cents >= 0),
    status      text NOT NULL DEFAULT 'AVAILABLE' CHECK (status IN ('AVAILABLE', 'IN_PROGRESS', 'BOOKED')),
    hold_id     uuid REFERENCES holds (id),
    customer_id uuid REFERENCES customers (id),
    CHECK ((status = 'IN_PROGRESS') = (hold_id IS NOT NULL)),
    CHECK ((status = 'AVAILABLE') = (customer_id IS NULL)),
    UNIQUE (event_id, section, row_label, seat_number)
);
CREATE INDEX tickets_available ON tickets (event_id, section, id) WHERE status = 'AVAILABLE';
CREATE INDEX tickets_event_status ON tickets (event_id, status);
CREATE INDEX tickets_hold ON tickets (hold_id) WHERE hold_id IS NOT NULL;

ALTER TABLE purchases ADD CONSTRAINT purchases_ticket_fk FOREIGN KEY (ticket_id) REFERENCES tickets (id);

-- How many tickets a customer holds or owns per event: the per-customer limit is a guarded
-- upsert on this row, so 50 simultaneous requests of one customer serialise here.
CREATE TABLE allowances (
    customer_id uuid NOT NULL REFERENCES customers (id),
    event_id    uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    taken       integer NOT NULL CHECK (taken >= 0),
    PRIMARY KEY (customer_id, event_id)
);

CREATE TABLE invariant_checks (
    id         bigserial PRIMARY KEY,
    checked_at timestamptz NOT NULL DEFAULT now(),
    ok         boolean NOT NULL,
    events     integer NOT NULL,
    violations jsonb NOT NULL DEFAULT '[]'
);
