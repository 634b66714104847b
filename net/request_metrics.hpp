// request_stats as Prometheus families, built at scrape time:
//   castellan_requests_total{op,result}       counter
//   castellan_request_duration_seconds{op}    histogram (read to reply)
// A Collectable rather than prometheus-cpp Counters and Histograms, whose
// per-observation locking and shared cache lines would sit on the validate
// path; see request_stats.hpp.
#pragma once

#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "net/request_stats.hpp"

namespace castellan::net {

class request_collector final : public prometheus::Collectable {
 public:
  explicit request_collector(const request_stats& stats) : stats_(stats) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const request_stats& stats_;
};

}  // namespace castellan::net
