-- stock_changed: what follows a committed change of an event's ticket states, in one
-- step: drop the stock cache, move the event's stock version on (the seat-map snapshot
-- is named by it), and enqueue the arq jobs not queued yet: the coalesced live push, and
-- whatever the caller adds (a new hold's expiry). A job is enqueued as arq's
-- `enqueue_job` does it: skipped while its job key or result key exists.
--
-- KEYS[1] stock cache        string (deleted)
-- KEYS[2] stock version      integer, moved on by one; a missing counter starts again at
--                            ARGV[1], above any version it held before
-- KEYS[3] arq queue          sorted set job id -> run at (ms)
-- KEYS[4], KEYS[5], ...      per job: arq job key, arq result key
-- ARGV[1] version base       microseconds since the epoch
-- ARGV[2] now (ms)
-- ARGV[3], ARGV[4], ARGV[5], ...  per job: job id, serialized job, run at (ms)
--
-- Returns the new stock version.

redis.call('DEL', KEYS[1])
local version = redis.call('INCR', KEYS[2])
if version == 1 then
  version = redis.call('INCRBY', KEYS[2], ARGV[1])
end
local now = tonumber(ARGV[2])
local a = 3
for k = 4, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[k], KEYS[k + 1]) == 0 then
    local run_at = tonumber(ARGV[a + 2])
    redis.call('PSETEX', KEYS[k], math.max(run_at - now, 0) + 86400000, ARGV[a + 1])
    redis.call('ZADD', KEYS[3], run_at, ARGV[a])
  end
  a = a + 3
end
return version
