-- advance_queue: one tick of an event's waiting room. Expires unused admissions, then
-- admits the next visitors in queue order, within the stock budget and the rate cap.
--
-- KEYS[1] queue          sorted set customer -> place score
-- KEYS[2] admitted       sorted set customer -> admission expiry (ms)
-- KEYS[3] admission_ids  hash customer -> "<jti>:<expiry ms>"
-- KEYS[4] in_transit     sorted set "<customer>:<jti>" -> time used (ms)
-- KEYS[5] admission_log  sorted set "<ms>:<n>:<first jti>" -> ms
-- KEYS[6] meta           hash: state, served, jti, rate, first_ms, blocked, reach (how many
--                        more visitors the stock not yet promised lets in; -1 unless open)
-- KEYS[7] done           hash customer -> "used:<ms>" | "expired:<ms>"
-- ARGV[1] room: floor(left to sell x admission factor) - held tickets, read from PostgreSQL
-- ARGV[2] max admissions in any 1000 ms
-- ARGV[3] 1 when admitting is allowed now (open, not paused, not sold out), else 0
-- ARGV[4] admission window (ms)
-- ARGV[5] state to record ("scheduled" | "open" | "paused" | "sold_out" | "closed")
-- ARGV[6] how long (ms) a used admission still counts (its hold may not be committed yet)
-- ARGV[7] rate window (ms) for the observed admission rate
-- ARGV[8] weight: tickets one admission may turn into (the event's max per customer)
--
-- Admitted now = min(floor((room - weight x (outstanding + in transit)) / weight),
-- cap - admitted in the last 1000 ms, waiting), never below 0. So after a tick
-- weight x (outstanding + in transit) + held <= floor(left x factor).
--
-- Returns {admitted now, served, waiting, outstanding, in transit, expired, rate, previous
--          state, now ms, customer 1, jti 1, expiry 1, customer 2, ...}

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local room = tonumber(ARGV[1])
local per_s = tonumber(ARGV[2])
local ttl = tonumber(ARGV[4])
local weight = tonumber(ARGV[8])

-- Unused admissions whose window has passed free their place.
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, customer in ipairs(expired) do
  redis.call('ZREM', KEYS[2], customer)
  redis.call('HDEL', KEYS[3], customer)
  redis.call('HSET', KEYS[7], customer, 'expired:' .. now)
end

redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - tonumber(ARGV[6]))
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - 60000)
local transit = redis.call('ZCARD', KEYS[4])
local outstanding = redis.call('ZCARD', KEYS[2])
local waiting = redis.call('ZCARD', KEYS[1])

local function logged(since)
  local total = 0
  for _, entry in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '(' .. since, '+inf')) do
    local a = string.find(entry, ':', 1, true)
    local b = string.find(entry, ':', a + 1, true)
    total = total + tonumber(string.sub(entry, a + 1, b - 1))
  end
  return total
end

local n = 0
if ARGV[3] == '1' then
  local free = room - weight * (outstanding + transit)
  n = math.min(math.floor(free / weight), per_s - logged(now - 1000), waiting)
  if n < 0 then
    n = 0
  end
end

local out = {}
if n > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[1], n)
  n = #popped / 2
  local first_jti = nil
  local expiry = now + ttl
  for i = 1, #popped, 2 do
    local customer = popped[i]
    local jti = redis.call('HINCRBY', KEYS[6], 'jti', 1)
    first_jti = first_jti or jti
    redis.call('ZADD', KEYS[2], expiry, customer)
    redis.call('HSET', KEYS[3], customer, jti .. ':' .. expiry)
    table.insert(out, customer)
    table.insert(out, tostring(jti))
    table.insert(out, string.format('%.0f', expiry))
  end
  redis.call('ZADD', KEYS[5], now, now .. ':' .. n .. ':' .. first_jti)
  redis.call('HINCRBY', KEYS[6], 'served', n)
  redis.call('HSETNX', KEYS[6], 'first_ms', now)
  outstanding = outstanding + n
  waiting = waiting - n
end

-- Observed rate: admissions in the rate window, over the window (or the time since the
-- first admission, when the sale opened more recently than that).
local window = tonumber(ARGV[7])
local first = tonumber(redis.call('HGET', KEYS[6], 'first_ms') or now)
local span = math.max(1000, math.min(window, now - first))
local rate = string.format('%.3f', logged(now - window) * 1000 / span)

-- Blocked: the room admits, but every ticket left is held or promised to those admitted,
-- so nobody (not even the head of the line) can be admitted until one comes back.
local blocked = '0'
if ARGV[3] == '1' and room - weight * (outstanding + transit) < weight then
  blocked = '1'
end
local reach = -1
if ARGV[3] == '1' then
  reach = math.max(0, math.floor((room - weight * (outstanding + transit)) / weight))
end

local previous = redis.call('HGET', KEYS[6], 'state') or ''
redis.call('HSET', KEYS[6], 'state', ARGV[5], 'rate', rate, 'blocked', blocked, 'reach', reach)
local served = redis.call('HGET', KEYS[6], 'served') or '0'

local result = {n, served, waiting, outstanding, transit, #expired, rate, previous, string.format('%.0f', now)}
for _, v in ipairs(out) do
  table.insert(result, v)
end
return result
