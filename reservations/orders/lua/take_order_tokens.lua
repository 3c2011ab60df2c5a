-- take_order_tokens: a token bucket shared by every orders worker, so that orders are
-- decided at most ARGV[1] per second whatever the number of workers.
--
-- KEYS[1] bucket  hash: tokens, ts (ms)
-- ARGV[1] rate (tokens per second)   ARGV[2] burst (bucket size)
-- ARGV[3] tokens wanted
--
-- Returns 0 when the tokens were taken, else the milliseconds to wait before asking again.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local wait = 0
if tokens >= want then
  tokens = tokens - want
else
  wait = math.ceil((want - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait
