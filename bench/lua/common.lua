-- Shared by every bench script (loaded with dofile by each of them).
--
-- A run sends exactly `limit` requests when limit > 0 (split over the threads), then waits
-- for the last answers, prints "BENCH-FINISHED" and stops its thread; the runner then ends
-- wrk (SIGINT) and reads the "BENCH-RESULT {json}" line that done() prints. With limit 0
-- the run lasts wrk's -d duration.
--
-- Per thread it counts answers by HTTP status and records the wall-clock time of the first
-- request sent and of the last answer received (microseconds since the epoch), so a rate
-- is measured over the time requests were actually in flight.

local ffi = require("ffi")
pcall(ffi.cdef, [[
  typedef struct { long tv_sec; long tv_usec; } bench_timeval;
  int gettimeofday(bench_timeval *tv, void *tz);
]])
local tv = ffi.new("bench_timeval")

function bench_now_us()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000000 + tonumber(tv.tv_usec)
end

tid, nthreads = 0, 1
limit, reserved, sent, received = 0, 0, 0, 0
first_us, last_us = 0, 0
counts = {}
local finished = false

-- args: limit, nthreads (every script passes these two first)
function bench_init(args)
  local total = tonumber(args[1]) or 0
  nthreads = tonumber(args[2]) or 1
  if total > 0 then
    limit = math.floor((total - tid - 1) / nthreads) + 1
    if total <= tid then limit = -1 end  -- nothing for this thread
  end
end

-- The index (0-based, over all threads) of the next request of this thread, or nil when
-- wrk calls request() only to check the script (no request was reserved by delay()).
function bench_next_index()
  if sent >= reserved then return nil end
  local i = sent * nthreads + tid
  sent = sent + 1
  if first_us == 0 then first_us = bench_now_us() end
  return i
end

-- delay() runs before every request() of a connection: a request is reserved here, so the
-- connections of a thread never send more than `limit` between them.
function delay()
  if limit ~= 0 and reserved >= limit then
    if limit < 0 and not finished then
      finished = true
      io.write("BENCH-FINISHED\n")
      io.flush()
    end
    return 3600000  -- this connection has nothing more to send
  end
  reserved = reserved + 1
  return 0
end

function response(status, headers, body)
  received = received + 1
  counts[status] = (counts[status] or 0) + 1
  last_us = bench_now_us()
  if limit > 0 and received >= limit and not finished then
    finished = true
    io.write("BENCH-FINISHED\n")
    io.flush()
    wrk.thread:stop()
  end
end

-- setup and done run in wrk's main environment
local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local out = {}
  local merged = {}
  local first, last, total_sent, total_received = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    local c = t:get("counts") or {}
    for status, n in pairs(c) do
      merged[status] = (merged[status] or 0) + n
    end
    local f, l = t:get("first_us") or 0, t:get("last_us") or 0
    if f > 0 and (first == 0 or f < first) then first = f end
    if l > last then last = l end
    total_sent = total_sent + (t:get("sent") or 0)
    total_received = total_received + (t:get("received") or 0)
  end
  local statuses = {}
  for status, n in pairs(merged) do
    table.insert(statuses, string.format('"%d":%d', status, n))
  end
  local e = summary.errors
  table.insert(out, string.format('"duration_us":%d,"requests":%d,"bytes":%d', summary.duration,
    summary.requests, summary.bytes))
  table.insert(out, string.format('"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}',
    e.connect, e.read, e.write, e.status, e.timeout))
  table.insert(out, string.format('"sent":%d,"received":%d,"first_us":%d,"last_us":%d', total_sent,
    total_received, first, last))
  table.insert(out, '"statuses":{' .. table.concat(statuses, ",") .. '}')
  table.insert(out, string.format(
    '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p95":%d,"p99":%d,"p999":%d}',
    latency.min, latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99), latency:percentile(99.9)))
  io.write("BENCH-RESULT {" .. table.concat(out, ",") .. "}\n")
end
