-- GET one path, `limit` times (0: for wrk's -d duration).
-- args: limit nthreads path
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

local req

function init(args)
  bench_init(args)
  req = wrk.format("GET", args[3])
end

function request()
  bench_next_index()
  return req
end
