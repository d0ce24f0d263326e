-- wrk script: POST /api/v1/bookings, each request at a distinct start.
-- Starts are 65 minutes apart on the bench offering's 5-minute grid (about
-- 22 bookings a day, a busy but real calendar), interleaved between wrk
-- threads so no two requests ask for the same time.
local counter = 0
thread_id = 0
local nthreads = 2
local threads_seen = 0
local base = tonumber(os.getenv("BENCH_BASE_EPOCH"))

function setup_book(thread)
  thread:set("thread_id", threads_seen)
  threads_seen = threads_seen + 1
end

function request()
  local i = counter * nthreads + thread_id
  counter = counter + 1
  local t = base + i * 3900
  local start = os.date("!%Y-%m-%dT%H:%M:%SZ", t)
  local body = '{"offering":"bench","start":"' .. start .. '","clients":[' ..
    '{"name":"Bench A","email":"a@bench.example"},{"name":"Bench B","email":"b@bench.example"}],"consent":true}'
  return wrk.format("POST", "/api/v1/bookings", {["Content-Type"] = "application/json"}, body)
end
