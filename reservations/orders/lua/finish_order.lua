-- finish_order: record in Redis that PostgreSQL has decided an order, exactly once.
-- A rejected order gives its tickets back to the customer's gate count. The order leaves
-- the event's unreserved count if it is still there (normally its reserve step released it).
--
-- KEYS[1] order record  hash (see place_order.lua)
-- KEYS[2] order counts  hash customer id -> tickets
-- KEYS[3] pending       sorted set of undecided order ids
-- KEYS[4] unreserved    hash order id -> quantity, and `total`
-- KEYS[5] unreserved seq  sorted set order id -> seq (the same orders)
-- KEYS[6] unreserved types  hash `o:<order id>` -> type, `t:<type>` -> tickets (place_order.lua)
-- ARGV[1] order id      ARGV[2] status (confirmed | rejected)
-- ARGV[3] reason or ""  ARGV[4] seconds to keep the decided record
--
-- Returns 1 when this call recorded the decision, 0 when it was already recorded, -1 when
-- the record is gone (decided long ago, or lost with Redis). Exactly one of the workers
-- deciding an order at once gets 1: the one that announces it.

redis.call('ZREM', KEYS[3], ARGV[1])
local q = redis.call('HGET', KEYS[4], ARGV[1])
if q then
  redis.call('HDEL', KEYS[4], ARGV[1])
  redis.call('ZREM', KEYS[5], ARGV[1])
  redis.call('HINCRBY', KEYS[4], 'total', -tonumber(q))
  local t = redis.call('HGET', KEYS[6], 'o:' .. ARGV[1])
  if t then
    redis.call('HDEL', KEYS[6], 'o:' .. ARGV[1])
    if redis.call('HINCRBY', KEYS[6], 't:' .. t, -tonumber(q)) <= 0 then
      redis.call('HDEL', KEYS[6], 't:' .. t)
    end
  end
  if redis.call('HLEN', KEYS[4]) <= 1 then
    redis.call('DEL', KEYS[4])
  end
end
local rec = redis.call('HMGET', KEYS[1], 'status', 'customer_id', 'quantity')
if not rec[1] then
  return -1
end
if rec[1] ~= 'queued' then
  return 0
end
if ARGV[2] == 'rejected' then
  local left = redis.call('HINCRBY', KEYS[2], rec[2], -tonumber(rec[3]))
  if left <= 0 then
    redis.call('HDEL', KEYS[2], rec[2])
  end
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'reason', ARGV[3])
redis.call('HDEL', KEYS[1], 'payment_method')
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
