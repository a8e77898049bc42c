-- wrk reports p50/p90/p99; the goals are stated at p95.
done = function(summary, latency, requests)
  io.write(string.format("KQ requests=%d duration_us=%d p50_us=%d p95_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
