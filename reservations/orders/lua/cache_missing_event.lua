-- Remember that an event id is unknown, for a while, without extending the while.
-- (EXPIRE ... NX would do it in one command, but it needs Redis 7; this runs on 6.2.)
-- KEYS[1]  the event's gate facts (hash, keys.event_meta)
-- ARGV[1]  seconds the miss is remembered
-- Returns 1 when the miss was recorded now, 0 when it was already known.
if redis.call('HSETNX', KEYS[1], 'missing', '1') == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  return 1
end
return 0
