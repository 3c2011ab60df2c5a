-- hit_rate_limit: fixed-window counters, all checked before any is counted.
--
-- KEYS[1..n]   one key per limited subject (an address, an account, a customer)
-- ARGV[2i-1]   the limit of KEYS[i]: requests allowed per window
-- ARGV[2i]     the window of KEYS[i] in ms; 0 marks a block marker instead of a counter:
--              refused while the key exists (until its PTTL), never counted
--
-- A request is counted against every counter only when it is under every limit and no
-- marker blocks it, so a refused request does not push the wait further.
--
-- Returns 0 when allowed, else the ms until the last refusing window or marker ends.

local wait = 0
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[2 * i])
  local refused
  if window == 0 then
    refused = redis.call('EXISTS', key) == 1
  else
    refused = tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[2 * i - 1])
  end
  if refused then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      ttl = window > 0 and window or 1000
    end
    if ttl > wait then
      wait = ttl
    end
  end
end
if wait > 0 then
  return wait
end
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[2 * i])
  if window > 0 and redis.call('INCR', key) == 1 then
    redis.call('PEXPIRE', key, window)
  end
end
return 0
