-- wrk: count responses by status in every thread; print them at the end
-- (errors must be none: anything but 2xx shows here).
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  if setup_book then setup_book(thread) end
end
function init(args)
  statuses = {}
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local st = t:get("statuses")
    if st then
      for s, n in pairs(st) do total[s] = (total[s] or 0) + n end
    end
  end
  local parts = {}
  for s, n in pairs(total) do parts[#parts + 1] = s .. "=" .. n end
  table.sort(parts)
  -- Errors: any status but 2xx/304, plus wrk's socket errors and timeouts.
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  for s, n in pairs(total) do
    if not (s >= 200 and s < 300) and s ~= 304 then errors = errors + n end
  end
  io.write("statuses: " .. table.concat(parts, " ") .. " errors=" .. errors .. "\n")
end
