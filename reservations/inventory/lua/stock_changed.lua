-- stock_changed: what follows a committed change of an event's ticket states, in one
-- step: drop the stock cache, move the event's stock version on (the seat-map snapshot
-- is named by it), and say whether a live push is due.
--
-- KEYS[1] stock cache        string (deleted)
-- KEYS[2] stock version      integer, moved on by one; a missing counter starts again at
--                            ARGV[1], above any version it held before
-- KEYS[3] live-push gate     string, set for ARGV[2] ms by the change that asks for a push
-- ARGV[1] version base       microseconds since the epoch
-- ARGV[2] gate lifetime      milliseconds, a little shorter than the push's delay: the
--                            push, deferred by that delay, runs after the gate is gone and
--                            so reads every change the gate turned away
--
-- Returns {new stock version, 1 when this change enqueues the live push else 0}.

redis.call('DEL', KEYS[1])
local version = redis.call('INCR', KEYS[2])
if version == 1 then
  version = redis.call('INCRBY', KEYS[2], ARGV[1])
end
local due = 0
if redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[2]) then
  due = 1
end
return {version, due}
