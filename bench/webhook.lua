-- wrk script for bench/bench.py: POST one signed GitHub webhook, over and over.
--
--   wrk -t1 -c32 -d15s -s bench/webhook.lua http://127.0.0.1:PORT/webhooks/github \
--       -- BODY_FILE SIGNATURE [DELIVERY] [EVENT] [close]
--
-- BODY_FILE  the exact request body (bench.py writes it)
-- SIGNATURE  the X-Hub-Signature-256 value over those bytes, "sha256=<hex>",
--            computed by bench.py with the daemon's webhook_secret
-- DELIVERY   X-GitHub-Delivery (default: a constant; ignored actions store
--            nothing, so one id for every request is fine)
-- EVENT      X-GitHub-Event (default: pull_request)
-- close      send "Connection: close": a new TCP connection per request, as
--            GitHub's deliveries arrive (wrk reconnects after each answer)
--
-- Every request is the same, so no request() function is defined: wrk
-- builds the request once per thread (in wrk.init, after our init) and
-- sends it from C without entering Lua. No response() either, for the same
-- reason; wrk itself counts answers with status > 399 ("Non-2xx or 3xx
-- responses") and socket errors.
--
-- done() prints one line "BENCH_JSON {...}" with exact figures for bench.py
-- to parse (latencies in microseconds).

local function slurp(path)
   local f, err = io.open(path, "rb")
   if not f then
      error("webhook.lua: cannot open body file: " .. tostring(err))
   end
   local data = f:read("*a")
   f:close()
   return data
end

function init(args)
   local body_file, signature = args[1], args[2]
   if not body_file or not signature then
      error("usage: wrk ... -s webhook.lua URL -- BODY_FILE SIGNATURE [DELIVERY] [EVENT] [close]")
   end
   wrk.method = "POST"
   wrk.body = slurp(body_file)
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["User-Agent"] = "GitHub-Hookshot/previewd-bench"
   wrk.headers["X-GitHub-Event"] = (args[4] and args[4] ~= "") and args[4] or "pull_request"
   wrk.headers["X-GitHub-Delivery"] = (args[3] and args[3] ~= "") and args[3]
      or "72d3162e-cc78-11e3-81ab-4c9367dc0958"
   wrk.headers["X-Hub-Signature-256"] = signature
   if args[5] == "close" then
      wrk.headers["Connection"] = "close"
   end
   -- Content-Length is added by wrk.format() from wrk.body.
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH_JSON {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d," ..
      "\"errors\":{\"connect\":%d,\"read\":%d,\"write\":%d,\"status\":%d,\"timeout\":%d}," ..
      "\"latency_us\":{\"min\":%d,\"mean\":%.1f,\"stdev\":%.1f,\"p50\":%d,\"p90\":%d," ..
      "\"p99\":%d,\"p999\":%d,\"max\":%d}}\n",
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.min, latency.mean, latency.stdev,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max))
end
