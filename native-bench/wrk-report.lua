-- native-bench wrk script: request shape from the environment, and a machine-readable summary.
--   WRK_METHOD (GET), WRK_BODY_SIZE (bytes of request body, 0), WRK_CLOSE=1 (Connection: close),
--   WRK_PIPELINE (requests per write, 1)
local method = os.getenv("WRK_METHOD") or "GET"
local body_size = tonumber(os.getenv("WRK_BODY_SIZE") or "0") or 0
wrk.method = method
if body_size > 0 then
  wrk.body = string.rep("x", body_size)
  wrk.headers["Content-Type"] = "application/octet-stream"
end
if os.getenv("WRK_CLOSE") == "1" then
  wrk.headers["Connection"] = "close"
end

-- WRK_PIPELINE=N (N > 1): N requests in one write, the next N once all N answers came back
-- (wrk counts the requests request() returns and waits for that many responses)
local depth = tonumber(os.getenv("WRK_PIPELINE") or "1") or 1
if depth > 1 then
  local batch = nil
  request = function()
    if not batch then
      local r = {}
      for i = 1, depth do r[i] = wrk.format() end
      batch = table.concat(r)
    end
    return batch
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"lat_us":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
