-- read_visitor: where a customer stands in an event's waiting room, without changing it.
--
-- KEYS[1] queue, KEYS[2] admitted, KEYS[3] admission_ids, KEYS[4] meta,
-- KEYS[5] done (hash customer -> "used:<ms>" | "expired:<ms>")
-- ARGV[1] customer id (the place's owner: a customer or an anonymous visitor)
--
-- Returns {"admitted", "<jti>:<expiry ms>", served, state, rate}
--      or {"waiting", rank (0-based), 0, served, state, rate, prequeue (0|1), blocked (0|1),
--          returned (grace returns so far: each moved everyone waiting back one),
--          reach (how many more visitors the stock not yet promised lets in; -1: unknown)}
--      or {"done", "used:<ms>" | "expired:<ms>", served, state, rate}: no place, and their
--         last admission was used (a hold) or expired unused
--      or {"none", "", served, state, rate}

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local customer = ARGV[1]
local meta = redis.call('HMGET', KEYS[4], 'served', 'state', 'rate', 'blocked', 'returned', 'reach')
local served = meta[1] or '0'
local state = meta[2] or ''
local rate = meta[3] or '0'
local blocked = meta[4] or '0'

local expiry = redis.call('ZSCORE', KEYS[2], customer)
if expiry and tonumber(expiry) > now then
  return {'admitted', redis.call('HGET', KEYS[3], customer), served, state, rate}
end
local score = redis.call('ZSCORE', KEYS[1], customer)
if not score then
  local done = redis.call('HGET', KEYS[5], customer)
  if done then
    return {'done', done, served, state, rate}
  end
  return {'none', '', served, state, rate}
end
local prequeue = 0
if tonumber(score) < 4503599627370496 then
  prequeue = 1
end
return {'waiting', redis.call('ZRANK', KEYS[1], customer), 0, served, state, rate, prequeue, blocked,
        meta[5] or '0', meta[6] or '-1'}
