-- payments.lua - wrk script for tests/bench/payments: POST /api/v1/pass/payments
-- with a bearer token and a partner code read from the files named by the
-- environment (SOLIPASS_BENCH_TOKENS, SOLIPASS_BENCH_CODES, one per line), a
-- unique Idempotency-Key per request, and a count of answers by status.

local threads = {}
local thread_count = 0

local function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if #line > 0 then lines[#lines + 1] = line end
  end
  return lines
end

function setup(thread)
  thread_count = thread_count + 1
  thread:set("id", thread_count)
  threads[#threads + 1] = thread
end

function init(args)
  tokens = read_lines(os.getenv("SOLIPASS_BENCH_TOKENS"))
  codes = read_lines(os.getenv("SOLIPASS_BENCH_CODES"))
  amount = os.getenv("SOLIPASS_BENCH_AMOUNT_CENTS") or "100"
  run = os.getenv("SOLIPASS_BENCH_RUN") or "run"
  -- A pause before each request (ms), to run below the peak: at half of it,
  -- the latency a city sees on an ordinary day rather than under a queue.
  pause_ms = tonumber(os.getenv("SOLIPASS_BENCH_PAUSE_MS") or "0")
  counter = 0
  ok = 0
  refused = 0
  failed = 0
  math.randomseed(id * 7919 + os.time())
end

function delay()
  return pause_ms
end

function request()
  counter = counter + 1
  -- Spread the load over every pass and partner; the key is unique per request.
  local token = tokens[(counter * 7 + id * 13) % #tokens + 1]
  local code = codes[(counter + id) % #codes + 1]
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = string.format("%s-%d-%d", run, id, counter),
  }
  local body = string.format('{"partner_code":"%s","amount_cents":%s}', code, amount)
  return wrk.format("POST", "/api/v1/pass/payments", headers, body)
end

function response(status, headers, body)
  if status == 201 then
    ok = ok + 1
  elseif status >= 400 and status < 500 then
    refused = refused + 1
  else
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local ok_total, refused_total, failed_total = 0, 0, 0
  for _, thread in ipairs(threads) do
    ok_total = ok_total + thread:get("ok")
    refused_total = refused_total + thread:get("refused")
    failed_total = failed_total + thread:get("failed")
  end
  io.write(string.format(
    'WRK_RESULT {"duration_us":%d,"requests":%d,"created":%d,"refused":%d,"failed":%d,' ..
    '"socket_errors":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.duration, summary.requests, ok_total, refused_total, failed_total,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
