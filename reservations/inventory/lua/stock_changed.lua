-- stock_changed: what follows a committed change of an event's ticket states, in one
-- step: drop the stock cache and move the event's stock version on (the seat-map
-- snapshot is named by it).
--
-- KEYS[1] stock cache        string (deleted)
-- KEYS[2] stock version      integer, moved on by one; a missing counter starts again at
--                            ARGV[1], above any version it held before
-- ARGV[1] version base       microseconds since the epoch
--
-- Returns the new stock version.

redis.call('DEL', KEYS[1])
local version = redis.call('INCR', KEYS[2])
if version == 1 then
  version = redis.call('INCRBY', KEYS[2], ARGV[1])
end
return version
