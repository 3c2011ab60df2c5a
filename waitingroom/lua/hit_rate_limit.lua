-- hit_rate_limit: fixed-window counters, all checked before any is counted.
--
-- KEYS[1..n]   one counter per limited subject (per IP, per customer)
-- ARGV[1]      window length in ms
-- ARGV[2..n+1] the limit of each counter, in KEYS order
--
-- A request is counted against every counter only when it is under every limit, so a
-- refused request does not push the wait further.
--
-- Returns 0 when allowed, else the ms until the fullest counter's window ends.

local window = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= tonumber(ARGV[i + 1]) then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      ttl = window
    end
    if ttl > wait then
      wait = ttl
    end
  end
end
if wait > 0 then
  return wait
end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then
    redis.call('PEXPIRE', key, window)
  end
end
return 0
