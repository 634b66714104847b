// request_collector; see request_metrics.hpp.
#include "net/request_metrics.hpp"

#include <limits>
#include <string>

namespace castellan::net {

std::vector<prometheus::MetricFamily> request_collector::Collect() const {
  auto view = stats_.read();
  prometheus::MetricFamily requests{"castellan_requests_total",
                                    "Requests answered, by op and result (ok or the error code)",
                                    prometheus::MetricType::Counter, {}};
  prometheus::MetricFamily latency{"castellan_request_duration_seconds",
                                   "Time from reading a request to its reply being ready, by op",
                                   prometheus::MetricType::Histogram, {}};
  for (size_t op = 0; op < op_kind_count; ++op) {
    std::string op_label(op_name(static_cast<op_kind>(op)));
    uint64_t of_op = 0;
    for (uint8_t r = 0; r < result_count; ++r) {
      uint64_t n = view.requests[op][r];
      of_op += n;
      if (n == 0)
        continue;  // a series appears with its first request
      prometheus::ClientMetric m;
      m.label = {{"op", op_label}, {"result", std::string(result_name(r))}};
      m.counter.value = static_cast<double>(n);
      requests.metric.push_back(std::move(m));
    }
    if (of_op == 0)
      continue;
    prometheus::ClientMetric h;
    h.label = {{"op", op_label}};
    uint64_t cumulative = 0;
    for (size_t b = 0; b < latency_bucket_count; ++b) {
      cumulative += view.buckets[op][b];
      prometheus::ClientMetric::Bucket bucket;
      bucket.upper_bound = b < latency_bounds_s.size() ? latency_bounds_s[b]
                                                        : std::numeric_limits<double>::infinity();
      bucket.cumulative_count = cumulative;
      h.histogram.bucket.push_back(bucket);
    }
    h.histogram.sample_count = cumulative;
    h.histogram.sample_sum = view.latency_sum_s[op];
    latency.metric.push_back(std::move(h));
  }
  return {std::move(requests), std::move(latency)};
}

}  // namespace castellan::net
