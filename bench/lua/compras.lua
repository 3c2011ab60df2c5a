-- POST /compras for distinct clients: request i buys for client <prefix>-0000-4000-8000-<i hex>.
-- args: limit nthreads event_id client_prefix
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

local event_id, prefix
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  bench_init(args)
  event_id, prefix = args[3], args[4]
end

function request()
  local i = bench_next_index()
  if i == nil then return wrk.format("GET", "/health") end
  local body = string.format('{"cliente_id":"%s-0000-4000-8000-%012x","evento_id":"%s"}', prefix, i, event_id)
  return wrk.format("POST", "/compras", headers, body)
end
