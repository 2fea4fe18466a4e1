-- wrk script of bench/run. The workload comes from the environment:
--   BENCH_WORKLOAD = ping      GET as given on the command line (static request, fastest path)
--                  | rows      POST {"name": "bench", "value": 42} (one row written, read back)
--                  | analysis  POST a small analysis result to /api/bench/analysis/{1..100}
--   BENCH_JSON_OUT = file that done() writes the summary to, as one JSON object.
-- Latencies are microseconds, as wrk measures them.

local workload = os.getenv("BENCH_WORKLOAD") or "ping"

wrk.headers["Content-Type"] = "application/json"

if workload == "rows" then
  wrk.method = "POST"
  wrk.path = "/api/bench/rows"
  wrk.body = '{"name": "bench", "value": 42}'
elseif workload == "analysis" then
  local n = 0
  local body = '{"peaks": [{"label": "ADENOSINE", "mz": 266.089355, "rt_seconds": 399.06, "area": 2430255145}, '
    .. '{"label": "ADENINE", "mz": 134.04718, "rt_seconds": 366.84, "area": 891159223}], "status": "done"}'
  request = function()
    n = n % 100 + 1
    return wrk.format("POST", "/api/bench/analysis/" .. n, nil, body)
  end
elseif workload ~= "ping" then
  error("unknown BENCH_WORKLOAD " .. workload)
end

function done(summary, latency, requests)
  local e = summary.errors
  local out = assert(io.open(assert(os.getenv("BENCH_JSON_OUT"), "BENCH_JSON_OUT not set"), "w"))
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
  out:close()
end
