-- The waiting room's own settings, one row per event sold through a queue. The event's
-- other facts (opening, limit, closed) come from reservations' event service.

-- name: insert_waiting_room
INSERT INTO waiting_rooms (event_id, admission_factor, max_admit_per_s, prequeue)
VALUES ($1, $2, $3, $4)
ON CONFLICT (event_id) DO NOTHING;

-- name: get_waiting_room
SELECT event_id, admission_factor, max_admit_per_s, prequeue, paused
FROM waiting_rooms
WHERE event_id = $1;

-- name: list_waiting_rooms
SELECT event_id, admission_factor, max_admit_per_s, prequeue, paused
FROM waiting_rooms
WHERE event_id = ANY($1::uuid[]);

-- name: update_waiting_room
-- Change the organizer's controls; a NULL argument keeps the current value.
UPDATE waiting_rooms
SET paused           = coalesce($2, paused),
    admission_factor = coalesce($3, admission_factor),
    max_admit_per_s  = coalesce($4, max_admit_per_s)
WHERE event_id = $1
RETURNING event_id, admission_factor, max_admit_per_s, prequeue, paused;
