-- consume_admission: use an admission once, for the hold it lets the customer make.
--
-- KEYS[1] admitted       sorted set customer -> expiry (ms)
-- KEYS[2] admission_ids  hash customer -> "<jti>:<expiry ms>"
-- KEYS[3] in_transit     sorted set "<customer>:<jti>" -> time used (ms)
-- KEYS[4] done           hash customer -> "used:<ms>" (so their pages stop, not re-join)
-- ARGV[1] customer id
-- ARGV[2] jti of the presented token
--
-- The admission leaves the outstanding set and enters in_transit, where the admission job
-- keeps counting it until the hold it pays for is surely visible in PostgreSQL.
--
-- Returns 1 (used now), 0 (no such admission: never issued, already used or replaced),
--         -1 (expired).

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local customer = ARGV[1]
local current = redis.call('HGET', KEYS[2], customer)
if not current then
  return 0
end
local sep = string.find(current, ':', 1, true)
local jti = string.sub(current, 1, sep - 1)
local expiry = tonumber(string.sub(current, sep + 1))
if jti ~= ARGV[2] then
  return 0
end
if expiry <= now then
  return -1
end
redis.call('ZREM', KEYS[1], customer)
redis.call('HDEL', KEYS[2], customer)
redis.call('ZADD', KEYS[3], now, customer .. ':' .. jti)
redis.call('HSET', KEYS[4], customer, 'used:' .. now)
return 1
