-- Waiting-room settings of an event. The rest of the event belongs to reservations.

-- name: get_waiting_room
SELECT id, waiting_room, admission_factor, max_admit_per_s, prequeue, paused, closed,
       sales_open_at, max_per_customer
FROM events
WHERE id = $1;

-- name: update_waiting_room
-- Change the organizer's controls; a NULL argument keeps the current value.
UPDATE events
SET paused           = coalesce($2, paused),
    admission_factor = coalesce($3, admission_factor),
    max_admit_per_s  = coalesce($4, max_admit_per_s)
WHERE id = $1
RETURNING id, waiting_room, admission_factor, max_admit_per_s, prequeue, paused, closed,
          sales_open_at, max_per_customer;
