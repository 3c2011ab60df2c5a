-- release_unreserved: orders whose reserve step has committed (tickets held, or the order
-- rejected) leave the event's count of accepted, unreserved tickets. Once per order: the
-- order's field is the proof it still counts, so a retried job releases nothing twice.
--
-- KEYS[1] unreserved    hash order id -> quantity, and `total` (see place_order.lua)
-- KEYS[2] unreserved seq  sorted set order id -> seq (the same orders)
-- KEYS[3] unreserved types  hash `o:<order id>` -> type, `t:<type>` -> tickets (place_order.lua)
-- ARGV    order ids
--
-- Returns the tickets released by this call.

local released = 0
for _, order_id in ipairs(ARGV) do
  local q = redis.call('HGET', KEYS[1], order_id)
  if q then
    redis.call('HDEL', KEYS[1], order_id)
    redis.call('ZREM', KEYS[2], order_id)
    redis.call('HINCRBY', KEYS[1], 'total', -tonumber(q))
    released = released + tonumber(q)
    local t = redis.call('HGET', KEYS[3], 'o:' .. order_id)
    if t then
      redis.call('HDEL', KEYS[3], 'o:' .. order_id)
      if redis.call('HINCRBY', KEYS[3], 't:' .. t, -tonumber(q)) <= 0 then
        redis.call('HDEL', KEYS[3], 't:' .. t)
      end
    end
  end
end
if redis.call('HLEN', KEYS[1]) <= 1 then
  redis.call('DEL', KEYS[1])  -- only `total` is left: nothing is in flight
end
return released
