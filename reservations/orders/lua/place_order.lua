-- place_order: the accept gate of POST /api/orders, in one atomic step: idempotency,
-- event checks, per-customer gate, sold-out flag, the stock bound, then the order record
-- and its entry on the `ticket_orders` stream.
-- Nothing is enqueued unless the key is stored, and the key is never stored without its
-- answer, so a duplicate (even a simultaneous one) never places a second order.
--
-- KEYS[1] idempotency   hash of the keys first used today: field ARGV[6] -> answer (below);
--                       the hash expires ARGV[2] seconds after its first write
-- KEYS[2] event meta    hash: missing | max_per_customer, waiting_room, closed, opens_ms, starts_ms
-- KEYS[3] sold-out flag string, present while nothing is available
-- KEYS[4] order counts  hash customer id -> tickets in accepted, not rejected orders
-- KEYS[5] order record  hash (written here; read by the worker and GET /api/orders/{id})
-- KEYS[6] pending       sorted set order id -> accepted ms
-- KEYS[7] orders stream `ticket_orders`: entry {order_id, request_id} (the orders workers'
--                       consumer group reads it)
-- KEYS[8] order seq     counter: the event's last order sequence number
-- KEYS[9] available     string: the event's AVAILABLE tickets as PostgreSQL last counted
--                       them (absent: no bound)
-- KEYS[10] unreserved   hash order id -> quantity, and `total`: accepted orders whose
--                       tickets the worker has not reserved yet (release_unreserved.lua)
-- KEYS[11], KEYS[12]    the idempotency hashes of yesterday and tomorrow (a key used
--                       before midnight, or by an API whose clock runs ahead, is there)
-- KEYS[13] unreserved seq  sorted set order id -> seq: the same orders as KEYS[10], in
--                       acceptance order (first come, first served in the worker)
-- KEYS[14] unreserved types  hash `o:<order id>` -> ticket type, `t:<type>` -> tickets of
--                       that type in KEYS[10] (orders that name a type)
-- KEYS[15] type available  string: the named type's AVAILABLE tickets as PostgreSQL last
--                       counted them (absent: bound by the event's only)
-- ARGV[1] request fingerprint (8 bytes)  ARGV[2] idempotency hash ttl (s)
-- ARGV[3] customer id                ARGV[4] quantity
-- ARGV[5] order id                   ARGV[6] the key's field: digest of (customer, key)
-- ARGV[7] event id                   ARGV[8] payment method id
-- ARGV[9] request id                 ARGV[10] order counts ttl (s)
-- ARGV[11] the ticket type the order names, or '' (any type); KEYS[2]'s field
--          `type:<name>` = "<opens ms>,<closes ms>" (either may be empty) says it exists
-- ARGV[12] absent in production. Test-only (Guards in service.py switched off): 'lookup'
--          runs only the key's lookup and returns {"fresh"} when the key is unused;
--          'claim' runs the rest without it (the lookup and the claim no longer atomic)
--
-- An answer is stored as fingerprint .. status .. (order id | error code), ~20 to 50
-- bytes, so a hash of the day stays a small listpack: a million refused attempts
-- take tens of MB, not hundreds.
--
-- Returns one of
--   {"accepted"}                the order is recorded and on the stream
--   {"replay", status, what}    the key was used with this body: its stored answer
--                               (the order id of a 202, or the error code of a refusal)
--   {"reused"}                  the key was used with another body
--   {"miss"}                    the event is not cached: fill KEYS[2] and call again
--   {"unknown"}                 no such event (negative cache entry)
--   {"refused", status, code}   refused and stored under the key: not_on_sale,
--                               admission_required, limit_reached, sold_out,
--                               unknown_ticket_type

if ARGV[12] ~= 'claim' then
  local stored = redis.call('HGET', KEYS[1], ARGV[6]) or redis.call('HGET', KEYS[11], ARGV[6])
    or redis.call('HGET', KEYS[12], ARGV[6])
  if stored then
    if string.sub(stored, 1, 8) ~= ARGV[1] then
      return {'reused'}
    end
    return {'replay', string.sub(stored, 9, 11), string.sub(stored, 12)}
  end
  if ARGV[12] == 'lookup' then
    return {'fresh'}
  end
end

local meta = redis.call('HMGET', KEYS[2], 'missing', 'max_per_customer', 'waiting_room', 'closed',
  'opens_ms', 'starts_ms')
if meta[1] then
  return {'unknown'}
end
if not meta[2] then
  return {'miss'}
end

local function remember(status, what)
  redis.call('HSET', KEYS[1], ARGV[6], ARGV[1] .. status .. what)
  if redis.call('TTL', KEYS[1]) < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[2])
  end
end

local function refuse(status, code)
  remember(status, code)
  return {'refused', status, code}
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local qty = tonumber(ARGV[4])

if meta[4] == '1' or now >= tonumber(meta[6]) or now < tonumber(meta[5]) then
  return refuse('409', 'not_on_sale')
end
local ttype = ARGV[11]
if ttype ~= '' then
  local window = redis.call('HGET', KEYS[2], 'type:' .. ttype)
  if not window then
    return refuse('422', 'unknown_ticket_type')
  end
  local comma = string.find(window, ',', 1, true)
  local opens, closes = tonumber(string.sub(window, 1, comma - 1)), tonumber(string.sub(window, comma + 1))
  if (opens and now < opens) or (closes and now >= closes) then
    return refuse('409', 'not_on_sale')
  end
end
if meta[3] == '1' then
  return refuse('403', 'admission_required')
end
local mine = tonumber(redis.call('HGET', KEYS[4], ARGV[3]) or '0')
if mine + qty > tonumber(meta[2]) then
  return refuse('409', 'limit_reached')
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  return refuse('409', 'sold_out')
end
-- Orders accepted but not reserved yet are not in `available` (PostgreSQL still shows
-- their tickets AVAILABLE); reserved ones are no longer counted here (their tickets are
-- IN_PROGRESS). Accept only what the available tickets can still cover.
local available = redis.call('GET', KEYS[9])
if available then
  local unreserved = tonumber(redis.call('HGET', KEYS[10], 'total') or '0')
  if unreserved + qty > tonumber(available) then
    return refuse('409', 'sold_out')
  end
end
-- The same bound per type: a VIP order is never accepted against Pista's tickets.
if ttype ~= '' then
  local type_available = redis.call('GET', KEYS[15])
  if type_available then
    local type_unreserved = tonumber(redis.call('HGET', KEYS[14], 't:' .. ttype) or '0')
    if type_unreserved + qty > tonumber(type_available) then
      return refuse('409', 'sold_out')
    end
  end
end

redis.call('HINCRBY', KEYS[4], ARGV[3], qty)
redis.call('EXPIRE', KEYS[4], ARGV[10])
local seq = redis.call('INCR', KEYS[8])
local entry = redis.call('XADD', KEYS[7], '*', 'order_id', ARGV[5], 'request_id', ARGV[9])
redis.call('HSET', KEYS[5], 'customer_id', ARGV[3], 'event_id', ARGV[7], 'quantity', qty,
  'payment_method', ARGV[8], 'request_id', ARGV[9], 'accepted_ms', now, 'status', 'queued',
  'seq', seq, 'entry', entry)
redis.call('ZADD', KEYS[6], now, ARGV[5])
redis.call('HSET', KEYS[10], ARGV[5], qty)
redis.call('HINCRBY', KEYS[10], 'total', qty)
redis.call('ZADD', KEYS[13], seq, ARGV[5])
if ttype ~= '' then
  redis.call('HSET', KEYS[5], 'ticket_type', ttype)
  redis.call('HSET', KEYS[14], 'o:' .. ARGV[5], ttype)
  redis.call('HINCRBY', KEYS[14], 't:' .. ttype, qty)
end
remember('202', ARGV[5])
return {'accepted'}
