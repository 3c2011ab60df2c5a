-- The waiting room keeps its settings in a table of its own. `events.waiting_room` stays:
-- it is the sale's own fact (holds and orders of such an event need an admission).

CREATE TABLE waiting_rooms (
    event_id         uuid PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    admission_factor double precision NOT NULL DEFAULT 1.0 CHECK (admission_factor > 0),
    max_admit_per_s  integer NOT NULL DEFAULT 100 CHECK (max_admit_per_s > 0),
    prequeue         text NOT NULL DEFAULT 'fifo' CHECK (prequeue IN ('fifo', 'lottery')),
    paused           boolean NOT NULL DEFAULT false
);

INSERT INTO waiting_rooms (event_id, admission_factor, max_admit_per_s, prequeue, paused)
SELECT id, admission_factor, max_admit_per_s, prequeue, paused FROM events WHERE waiting_room;

ALTER TABLE events
    DROP COLUMN admission_factor,
    DROP COLUMN max_admit_per_s,
    DROP COLUMN prequeue,
    DROP COLUMN paused;
