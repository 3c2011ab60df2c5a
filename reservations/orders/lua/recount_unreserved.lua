-- recount_unreserved: repair an event's count of accepted, unreserved tickets (reconcile).
-- Drops the orders known to be reserved or decided, then sets `total` to the sum of the
-- orders left, in one step, so no gate accept or worker release in between is lost.
--
-- KEYS[1] unreserved    hash order id -> quantity, and `total` (see place_order.lua)
-- KEYS[2] unreserved seq  sorted set order id -> seq (the same orders; members without a
--                       field in KEYS[1] are dropped too)
-- ARGV    order ids that no longer count
--
-- Returns {total before, total after}.

for _, order_id in ipairs(ARGV) do
  redis.call('HDEL', KEYS[1], order_id)
  redis.call('ZREM', KEYS[2], order_id)
end
local before = tonumber(redis.call('HGET', KEYS[1], 'total') or '0')
local fields = redis.call('HGETALL', KEYS[1])
local sum = 0
for i = 1, #fields, 2 do
  if fields[i] ~= 'total' then
    sum = sum + tonumber(fields[i + 1])
  end
end
for _, order_id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if redis.call('HEXISTS', KEYS[1], order_id) == 0 then
    redis.call('ZREM', KEYS[2], order_id)
  end
end
if #fields <= 2 and sum == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
else
  redis.call('HSET', KEYS[1], 'total', sum)
end
return {before, sum}
