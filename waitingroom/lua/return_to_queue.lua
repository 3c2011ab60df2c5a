-- return_to_queue: use the grace offer: the visitor's place, at the front of the line.
--
-- KEYS[1] queue     sorted set visitor -> place score
-- KEYS[2] sequence  arrival counter
-- KEYS[3] grace     hash visitor -> "offered:<deadline ms>" | "used:<ms>"
-- KEYS[4] done      hash visitor -> how their last admission ended
-- KEYS[5] admitted  sorted set visitor -> admission expiry (ms)
-- KEYS[6] meta      hash; `returned` counts the returns (each moves everyone waiting back one)
-- ARGV[1] visitor id (the place's owner)
--
-- The place's score is -2^52 + an arrival number: below every pre-queue place (>= 0) and
-- every later arrival (2^52 + n), so returners stand ahead of everyone and among
-- themselves in the order they came back. A visitor already in line (joined again at the
-- back) is moved to the front.
--
-- Returns {"returned", rank (0-based)}
--      or {"none"} (no offer: no hold of theirs expired, or grace is off)
--      or {"used", "<ms>"} (the offer was taken already)
--      or {"expired", "<deadline ms>"} (the window has passed)
--      or {"admitted"} (an admission of theirs is still open: nothing to come back to)

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local visitor = ARGV[1]
local expiry = redis.call('ZSCORE', KEYS[5], visitor)
if expiry and tonumber(expiry) > now then
  return {'admitted'}
end
local offer = redis.call('HGET', KEYS[3], visitor)
if not offer then
  return {'none'}
end
local sep = string.find(offer, ':', 1, true)
local how = string.sub(offer, 1, sep - 1)
local at = string.sub(offer, sep + 1)
if how == 'used' then
  return {'used', at}
end
if tonumber(at) < now then
  return {'expired', at}
end
redis.call('HSET', KEYS[3], visitor, 'used:' .. now)
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], string.format('%.0f', seq - 4503599627370496), visitor)
redis.call('HDEL', KEYS[4], visitor)
redis.call('HINCRBY', KEYS[6], 'returned', 1)
return {'returned', redis.call('ZRANK', KEYS[1], visitor)}
