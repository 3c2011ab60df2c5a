-- stock_changed: what follows a committed change of an event's ticket states, in one
-- step: drop the stock cache, move the event's stock version on (the seat-map snapshot
-- is named by it), and say whether a live push is due.
--
-- KEYS[1] stock cache        string (deleted)
-- KEYS[2] stock version      integer, moved on by one; a missing counter starts again at
--                            ARGV[1], above any version it held before
-- KEYS[3] live-push gate     string, set by the change that asks for a push
-- KEYS[4] live-push cost     integer, ms the event's last seat delta took (live/service.py)
-- ARGV[1] version base       microseconds since the epoch
-- ARGV[2] gate lifetime      milliseconds, at least; ARGV[3] times the last push's cost
--                            when that is longer (a big map is pushed less often). The
--                            caller defers the push past the gate: it runs after the gate
--                            is gone and so reads every change the gate turned away
-- ARGV[3] cost factor
--
-- Returns {new stock version, the gate's lifetime in ms when this change enqueues the live
-- push, else 0}.

redis.call('DEL', KEYS[1])
local version = redis.call('INCR', KEYS[2])
if version == 1 then
  version = redis.call('INCRBY', KEYS[2], ARGV[1])
end
local gate = math.max(tonumber(ARGV[2]), (tonumber(redis.call('GET', KEYS[4])) or 0) * tonumber(ARGV[3]))
if redis.call('SET', KEYS[3], '1', 'NX', 'PX', gate) then
  return {version, gate}
end
return {version, 0}
