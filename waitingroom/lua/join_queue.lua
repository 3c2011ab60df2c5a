-- join_queue: give a customer one place in an event's queue, or return the one they have.
--
-- KEYS[1] queue        sorted set customer -> place score
-- KEYS[2] sequence     arrival counter
-- KEYS[3] admitted     sorted set customer -> admission expiry (ms)
-- KEYS[4] admission_ids hash customer -> "<jti>:<expiry ms>"
-- KEYS[5] meta         hash (state, served, rate)
-- KEYS[6] draws        sorted set customer -> lottery draw (lottery pre-queue only)
-- KEYS[7] done         hash customer -> "used:<ms>" | "expired:<ms>" (their last admission)
-- ARGV[1] customer id (the place's owner: a customer or an anonymous visitor)
-- ARGV[2] opening time in ms since the epoch (0: the sale is open)
-- ARGV[3] lottery draw, an integer < 2^52 ("" for a fifo pre-queue)
-- ARGV[4] '1': join again even after an admission that was used or expired; '0': report it
-- ARGV[5], ARGV[6] absent in production. Test-only (Guards in service/queue.py switched
--         off): 'number' stops after taking an arrival number and returns {"numbered", n};
--         'place', n places the customer with that number (the two no longer atomic)
--
-- The clock is Redis's own (TIME), so every API instance agrees on when the sale opens.
-- Before the opening a newcomer's score is its arrival number (fifo) or its draw (lottery);
-- after it, 2^52 + arrival number, so the whole pre-queue stays ahead of later arrivals
-- without anything being moved at the opening.
--
-- Returns {"admitted", "<jti>:<expiry ms>", served, state, rate}
--      or {"done", "used:<ms>" | "expired:<ms>", served, state, rate} (ARGV[4] = '0' only)
--      or {"waiting", rank (0-based), created (0|1), served, state, rate, prequeue (0|1),
--          blocked (0|1: every ticket left is held or promised, nobody can be admitted now),
--          returned (grace returns so far), reach (how many more the stock lets in; -1: unknown)}

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local customer = ARGV[1]
local meta = redis.call('HMGET', KEYS[5], 'served', 'state', 'rate', 'blocked', 'returned', 'reach')
local served = meta[1] or '0'
local state = meta[2] or ''
local rate = meta[3] or '0'
local blocked = meta[4] or '0'

local expiry = redis.call('ZSCORE', KEYS[3], customer)
if expiry and tonumber(expiry) > now then
  return {'admitted', redis.call('HGET', KEYS[4], customer), served, state, rate}
end

local created = 0
local score = ARGV[5] ~= 'place' and redis.call('ZSCORE', KEYS[1], customer)
if not score then
  local done = redis.call('HGET', KEYS[7], customer)
  if done and ARGV[4] ~= '1' then
    return {'done', done, served, state, rate}
  end
  local seq = ARGV[5] == 'place' and tonumber(ARGV[6]) or redis.call('INCR', KEYS[2])
  if ARGV[5] == 'number' then
    return {'numbered', seq}
  end
  local open_at = tonumber(ARGV[2])
  if open_at > 0 and now < open_at then
    if ARGV[3] ~= '' then
      score = ARGV[3]
      redis.call('ZADD', KEYS[6], score, customer)
    else
      score = string.format('%.0f', seq)
    end
  else
    score = string.format('%.0f', 4503599627370496 + seq)
  end
  redis.call('ZADD', KEYS[1], score, customer)
  redis.call('HDEL', KEYS[7], customer)
  created = 1
end

local prequeue = 0
if tonumber(score) < 4503599627370496 then
  prequeue = 1
end
return {'waiting', redis.call('ZRANK', KEYS[1], customer), created, served, state, rate, prequeue, blocked,
        meta[5] or '0', meta[6] or '-1'}
