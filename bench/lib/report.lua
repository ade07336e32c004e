-- wrk script used for every measurement (bench/run passes it with -s).
--
-- It loads the scenario's own script (# lua:), applies # method: and
-- # body:, and replaces wrk's human report with one machine-readable line
-- carrying exact latency percentiles in microseconds.
-- A scenario script may define init/request/response but not done.

local method = os.getenv("BENCH_METHOD")
if method and method ~= "" then wrk.method = method end

local body_file = os.getenv("BENCH_BODY_FILE")
if body_file and body_file ~= "" then
   local f = assert(io.open(body_file, "rb"))
   wrk.body = f:read("*a")
   f:close()
end

local script = os.getenv("BENCH_LUA")
if script and script ~= "" then dofile(script) end

done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d" ..
      " status=%d connect=%d read=%d write=%d timeout=%d\n",
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(99),
      e.status, e.connect, e.read, e.write, e.timeout))
end
