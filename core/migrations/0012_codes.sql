-- Presale (access) and discount codes of an event (docs/codes.md, ADR 0019).
-- `uses` counts the holds that carry the code and have not given it back (held or bought);
-- it is taken by one guarded UPDATE in the hold's transaction, so `max_uses` holds under any
-- concurrency, and the CHECK below is the last word if a guard were ever wrong.

CREATE TABLE codes (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id         uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    code             text NOT NULL CHECK (code ~ '^[A-Z0-9_-]{3,32}$'),  -- stored upper case
    kind             text NOT NULL CHECK (kind IN ('access', 'discount')),
    percent_off      integer CHECK (percent_off BETWEEN 1 AND 100),
    amount_off_cents integer CHECK (amount_off_cents BETWEEN 1 AND 100000000),
    ticket_type      text CHECK (length(ticket_type) BETWEEN 1 AND 100),  -- NULL: every type
    max_uses         integer CHECK (max_uses > 0),                        -- NULL: unlimited
    uses             integer NOT NULL DEFAULT 0 CHECK (uses >= 0),
    valid_from       timestamptz,
    valid_until      timestamptz,
    active           boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, code),
    CONSTRAINT codes_uses_within_max CHECK (max_uses IS NULL OR uses <= max_uses),
    -- A discount code has exactly one of the two amounts; an access code has none.
    CHECK (CASE kind WHEN 'discount' THEN (percent_off IS NULL) <> (amount_off_cents IS NULL)
                     ELSE percent_off IS NULL AND amount_off_cents IS NULL END),
    CONSTRAINT codes_window CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_from < valid_until)
);

-- One row per hold that carried a code: held while the hold is active, confirmed when it is
-- bought, released when it expired or was cancelled, refunded when every ticket it bought
-- was refunded. Only `held` and `confirmed` rows count in `codes.uses`.
CREATE TABLE code_uses (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code_id        uuid NOT NULL REFERENCES codes (id) ON DELETE CASCADE,
    hold_id        uuid NOT NULL UNIQUE REFERENCES holds (id),
    customer_id    uuid NOT NULL REFERENCES customers (id),
    discount_cents integer NOT NULL CHECK (discount_cents >= 0),
    status         text NOT NULL DEFAULT 'held'
                   CHECK (status IN ('held', 'confirmed', 'released', 'refunded')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    ended_at       timestamptz,
    CHECK ((status IN ('released', 'refunded')) = (ended_at IS NOT NULL))
);
CREATE INDEX code_uses_code ON code_uses (code_id, status);
