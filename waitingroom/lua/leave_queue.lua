-- leave_queue: a customer gives up their place, or their admission not yet used.
--
-- KEYS[1] queue, KEYS[2] admitted, KEYS[3] admission_ids, KEYS[4] draws, KEYS[5] done
-- ARGV[1] customer id
-- ARGV[2] 1 while the pre-queue is still open: the leaver's lottery draw is withdrawn too
--         (after the opening the published draws stay as they were drawn)
--
-- Returns 1 when the customer had a place, an admission or a record of their last one
-- (forgotten too), else 0.

local customer = ARGV[1]
local n = redis.call('ZREM', KEYS[1], customer) + redis.call('ZREM', KEYS[2], customer)
redis.call('HDEL', KEYS[3], customer)
n = n + redis.call('HDEL', KEYS[5], customer)
if ARGV[2] == '1' then
  redis.call('ZREM', KEYS[4], customer)
end
if n > 0 then
  return 1
end
return 0
