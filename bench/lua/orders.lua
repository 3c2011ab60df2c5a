-- POST /api/orders, one line of the attempts file per request: "<bearer token> <Idempotency-Key>".
-- A retry is a line repeated later in the file: same customer, same key, same body.
-- Thread t of n sends lines t, t+n, t+2n, ... (0-based); past the last line it starts again
-- from the first (only the ceiling asks for more requests than the file has lines).
-- args: limit nthreads attempts_file event_id card_number lines_in_file
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

local file, line_no, body, lines
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  bench_init(args)
  file = assert(io.open(args[3], "r"))
  line_no = -1
  lines = tonumber(args[6])
  body = string.format('{"event_id":"%s","quantity":1,"card_number":"%s"}', args[4], args[5])
end

function request()
  local i = bench_next_index()
  if i == nil then return wrk.format("GET", "/health") end
  i = i % lines
  if i <= line_no then
    file:seek("set")
    line_no = -1
  end
  local line
  repeat
    line = file:read("*l")
    line_no = line_no + 1
  until line == nil or line_no == i
  assert(line ~= nil, "the attempts file has fewer lines than announced")
  local sp = line:find(" ", 1, true)
  headers["Authorization"] = "Bearer " .. line:sub(1, sp - 1)
  headers["Idempotency-Key"] = line:sub(sp + 1)
  return wrk.format("POST", "/api/orders", headers, body)
end
