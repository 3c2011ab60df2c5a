-- record_failure: one more failure of a subject (a login of one account), and the
-- growing block it earns: none before ARGV[1] failures in a row, then ARGV[2] ms,
-- doubling with each further failure up to ARGV[3] ms.
--
-- KEYS[1]  failure counter (the failures in a row; forgotten ARGV[4] ms after the last)
-- KEYS[2]  block marker, set for the block's length (hit_rate_limit.lua checks it)
-- ARGV[1]  failures before the first block   ARGV[2] first block (ms)
-- ARGV[3]  longest block (ms)                ARGV[4] how long failures are remembered (ms)
--
-- Returns the block set in ms, 0 when none.

local failures = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local after = tonumber(ARGV[1])
if failures < after then
  return 0
end
local block = tonumber(ARGV[2]) * 2 ^ (failures - after)
local longest = tonumber(ARGV[3])
if block > longest then
  block = longest
end
block = math.floor(block)
redis.call('SET', KEYS[2], '1', 'PX', block)
return block
