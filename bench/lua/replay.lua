-- Replays prepared requests round-robin and reports JSON for bench/run.py.
-- Usage: wrk -t1 -cN -dS --latency -s bench/lua/replay.lua URL -- REQUESTS_FILE [BEARER_TOKEN]
-- REQUESTS_FILE: one request per line, "METHOD<TAB>PATH<TAB>BODY" (BODY may be empty).
-- An error is a non-200 status or a GraphQL error in the body (top-level "errors":[{"message" ...). A
-- mutation's payload errors ("errors":[{"field" ..., the domain refusing the write, e.g. NOT_COVERED) are
-- counted apart as refusals: the service answered them correctly.

local requests = {}
local index = 0
local threads = {}
-- A global (not local): done() reads it from each thread with thread:get("errors").
errors = 0
refused = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local headers = { ["Content-Type"] = "application/json" }
  if args[2] ~= nil and args[2] ~= "" then
    headers["Authorization"] = "Bearer " .. args[2]
  end
  for line in io.lines(args[1]) do
    local method, path, body = line:match("^([^\t]*)\t([^\t]*)\t?(.*)$")
    if body == "" then body = nil end
    table.insert(requests, wrk.format(method, path, headers, body))
  end
  index = math.random(#requests) - 1
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors":[{"message"', 1, true) then
    errors = errors + 1
  elseif string.find(body, '"errors":[{"field"', 1, true) then
    refused = refused + 1
  end
end

function done(summary, latency, requests_)
  local failed, refusals = 0, 0
  for _, thread in ipairs(threads) do
    failed = failed + (thread:get("errors") or 0)
    refusals = refusals + (thread:get("refused") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"errors":%d,"refused":%d,' ..
    '"socket_errors":%d,"non_2xx":%d,"bytes":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), failed, refusals,
    e.connect + e.read + e.write + e.timeout, e.status, summary.bytes))
end
