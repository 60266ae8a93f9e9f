-- wrk script for the bare endpoint (bench/bare_app.py), printing the same summary line as wrk_autosave.lua.
wrk.path = "/bare"

function done(summary, latency, requests)
  io.write(string.format("WRK_RESULT {\"requests\": %d, \"seconds\": %.3f, \"errors\": %d, \"refused\": 0, " ..
    "\"p50_ms\": %.2f, \"p99_ms\": %.2f, \"max_ms\": %.2f}\n", summary.requests, summary.duration / 1e6,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
