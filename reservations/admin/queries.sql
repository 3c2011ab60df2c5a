-- The job monitor's view of PostgreSQL: holds about to end and the last invariant check.

-- name: count_active_holds
SELECT count(*) AS active,
       count(*) FILTER (WHERE expires_at <= now() + make_interval(secs => $1)) AS expiring
FROM holds
WHERE status = 'active';

-- name: soonest_expiring_holds
SELECT id, event_id, customer_id, quantity, expires_at,
       extract(epoch FROM expires_at - now())::float8 AS seconds_left
FROM holds
WHERE status = 'active'
ORDER BY expires_at
LIMIT $1;

-- name: last_invariant_check
SELECT id, checked_at, ok, events, violations FROM invariant_checks ORDER BY id DESC LIMIT 1;
