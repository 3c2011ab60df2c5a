-- recount_unreserved: repair an event's count of accepted, unreserved tickets (reconcile).
-- Drops the orders known to be reserved or decided, then sets `total` to the sum of the
-- orders left, in one step, so no gate accept or worker release in between is lost.
--
-- KEYS[1] unreserved    hash order id -> quantity, and `total` (see place_order.lua)
-- KEYS[2] unreserved seq  sorted set order id -> seq (the same orders; members without a
--                       field in KEYS[1] are dropped too)
-- KEYS[3] unreserved types  hash `o:<order id>` -> type, `t:<type>` -> tickets (place_order.lua):
--                       rebuilt from the orders left
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
local by_type = {}
local typed = redis.call('HGETALL', KEYS[3])
for i = 1, #typed, 2 do
  if string.sub(typed[i], 1, 2) == 'o:' then
    local q = redis.call('HGET', KEYS[1], string.sub(typed[i], 3))
    if q then
      by_type[typed[i + 1]] = (by_type[typed[i + 1]] or 0) + tonumber(q)
    else
      redis.call('HDEL', KEYS[3], typed[i])
    end
  end
end
for i = 1, #typed, 2 do
  if string.sub(typed[i], 1, 2) == 't:' and not by_type[string.sub(typed[i], 3)] then
    redis.call('HDEL', KEYS[3], typed[i])
  end
end
for t, n in pairs(by_type) do
  redis.call('HSET', KEYS[3], 't:' .. t, n)
end
if #fields <= 2 and sum == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
else
  redis.call('HSET', KEYS[1], 'total', sum)
end
return {before, sum}
