-- wrk script: a mixed workload, the day of a busy practice compressed.
-- Every connection walks the same 20-step schedule, so the mix is exact:
--   browse        6  (home page, the intensive's calendar page, the offerings API)
--   availability  5  (intensive 30 days, consult 14 days)
--   intake save   5  (PUT /api/v1/intake/{token}: a draft saved, as intake.js does)
--   book          2  (POST /api/v1/bookings at a distinct start)
--   feed fetch    2  (a calendar app polling: one full, one If-None-Match)
-- Environment: BENCH_BASE_EPOCH (first booking start), BENCH_TOKENS (a file
-- with one intake token per line), BENCH_AVAIL_INTENSIVE, BENCH_AVAIL_CONSULT,
-- BENCH_FEED (path), BENCH_FEED_ETAG.
local counter = 0
thread_id = 0
local nthreads = 2
local threads_seen = 0
local base = tonumber(os.getenv("BENCH_BASE_EPOCH"))
local tokens = {}
local avail_intensive = os.getenv("BENCH_AVAIL_INTENSIVE")
local avail_consult = os.getenv("BENCH_AVAIL_CONSULT")
local feed = os.getenv("BENCH_FEED")
local etag = os.getenv("BENCH_FEED_ETAG")
local bookings = 0

function setup_book(thread)
  thread:set("thread_id", threads_seen)
  threads_seen = threads_seen + 1
end

local function load_tokens()
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
end

local function book()
  local i = bookings * nthreads + thread_id
  bookings = bookings + 1
  local start = os.date("!%Y-%m-%dT%H:%M:%SZ", base + i * 3900)
  local body = '{"offering":"bench","start":"' .. start .. '","clients":[' ..
    '{"name":"Mixed A","email":"a@bench.example"},{"name":"Mixed B","email":"b@bench.example"}],"consent":true}'
  return wrk.format("POST", "/api/v1/bookings", {["Content-Type"] = "application/json"}, body)
end

local function intake_save()
  if #tokens == 0 then load_tokens() end
  local t = tokens[(counter % #tokens) + 1]
  local body = '{"accept_policy":true,"answers":{"brings_you":"We keep having the same argument, draft ' ..
    counter .. '.","urgency":' .. ((counter % 7) + 1) .. ',"heard_of":"search"}}'
  return wrk.format("PUT", "/api/v1/intake/" .. t, {["Content-Type"] = "application/json"}, body)
end

local schedule = {
  function() return wrk.format("GET", "/") end,
  function() return wrk.format("GET", avail_intensive) end,
  intake_save,
  function() return wrk.format("GET", "/offerings/intensive-2day") end,
  book,
  function() return wrk.format("GET", avail_consult) end,
  intake_save,
  function() return wrk.format("GET", "/api/v1/offerings") end,
  function() return wrk.format("GET", feed) end,
  function() return wrk.format("GET", avail_intensive) end,
  intake_save,
  function() return wrk.format("GET", "/") end,
  function() return wrk.format("GET", avail_consult) end,
  intake_save,
  function() return wrk.format("GET", "/offerings/intensive-2day") end,
  book,
  function() return wrk.format("GET", avail_intensive) end,
  intake_save,
  function() return wrk.format("GET", "/api/v1/offerings") end,
  function() return wrk.format("GET", feed, {["If-None-Match"] = etag}) end,
}

function request()
  local f = schedule[(counter % #schedule) + 1]
  local r = f()
  counter = counter + 1
  return r
end
