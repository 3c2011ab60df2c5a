-- earlier_unreserved: which accepted orders of an event are ahead of a batch the worker is
-- about to reserve and still wait for their own reserve step (first come, first served).
--
-- KEYS[1] unreserved    hash order id -> quantity, and `total` (see place_order.lua)
-- KEYS[2] unreserved seq  sorted set order id -> seq (the same orders)
-- ARGV    the batch's order ids, then as last argument the batch's highest seq
--
-- Returns a flat list seq1, quantity1, seq2, quantity2, ... of the unreserved orders with a
-- seq below the highest one that are not in the batch, in seq order.

local batch = {}
for i = 1, #ARGV - 1 do
  batch[ARGV[i]] = true
end
local ahead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[#ARGV], 'WITHSCORES')
local out = {}
for i = 1, #ahead, 2 do
  if not batch[ahead[i]] then
    local q = redis.call('HGET', KEYS[1], ahead[i])
    if q then
      out[#out + 1] = tonumber(ahead[i + 1])
      out[#out + 1] = tonumber(q)
    end
  end
end
return out
