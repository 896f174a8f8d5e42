-- wrk script: POSTs GraphQL requests taken in turn from WRK_REQUESTS (one per line: a bearer token, a
-- tab, a JSON body; the token may be empty), so that load spreads over several callers and documents as
-- real traffic does. Counts answers that are not a clean HTTP 200 without "errors", so a run that only
-- measured error pages is visible, and prints one JSON line at the end for bench/lib/wrk.ts to read.
local requests = {}
-- Built in each thread once wrk knows the address: a request of our own needs its Host header.
function init(args)
  local host = wrk.headers["Host"] or (wrk.port and (wrk.host .. ":" .. wrk.port) or wrk.host)
  for line in string.gmatch(os.getenv("WRK_REQUESTS") or "", "[^\n]+") do
    local token, body = string.match(line, "^([^\t]*)\t(.*)$")
    local headers = { ["Host"] = host, ["content-type"] = "application/json" }
    if token ~= "" then headers["authorization"] = "Bearer " .. token end
    table.insert(requests, wrk.format("POST", nil, headers, body))
  end
  assert(#requests > 0, "WRK_REQUESTS is empty")
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

local next = 0
function request()
  next = next % #requests + 1
  return requests[next]
end

bad = 0
first = nil
function response(status, headers, text)
  if status ~= 200 or string.find(text, '"errors"', 1, true) then
    bad = bad + 1
    if not first then first = status .. " " .. string.sub(text, 1, 200) end
  end
end

function done(summary, latency, requests)
  local errors, sample = 0, ""
  for _, thread in ipairs(threads) do
    errors = errors + (thread:get("bad") or 0)
    local f = thread:get("first")
    if f and sample == "" then sample = string.gsub(f, "[%c\"\\]", " ") end
  end
  io.write(string.format(
    '{"requests":%d,"durationUs":%d,"errors":%d,"socketErrors":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d,"firstError":"%s"}\n',
    summary.requests, summary.duration, errors,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout + summary.errors.status,
    latency:percentile(50), latency:percentile(99), latency.max, sample))
end
