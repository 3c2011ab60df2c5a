-- grant_grace: after a hold expired, offer its visitor one return to the front of the line.
--
-- KEYS[1] grace   hash visitor -> "offered:<deadline ms>" | "used:<ms>"
-- KEYS[2] done    hash visitor -> "used:<ms>" | "expired:<ms>" (their last admission)
-- KEYS[3] owners  hash customer -> visitor whose place the customer took over
-- ARGV[1] customer id of the expired hold
-- ARGV[2] the grace window (ms)
--
-- Only a visitor whose last admission was used (by the hold that expired: the event sells
-- through its waiting room) is offered, and only once ever: an existing entry, offered or
-- used, is kept as it is.
--
-- Returns {1, visitor, deadline ms} when offered now, else {0, visitor, ""}.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local visitor = redis.call('HGET', KEYS[3], ARGV[1]) or ARGV[1]
local done = redis.call('HGET', KEYS[2], visitor)
if not done or string.sub(done, 1, 5) ~= 'used:' then
  return {0, visitor, ''}
end
local deadline = string.format('%.0f', now + tonumber(ARGV[2]))
if redis.call('HSETNX', KEYS[1], visitor, 'offered:' .. deadline) == 0 then
  return {0, visitor, ''}
end
return {1, visitor, deadline}
