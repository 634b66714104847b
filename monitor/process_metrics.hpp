// What every Prometheus client library exports about its process (process_*:
// CPU, memory, file descriptors, start time), plus castellan_build_info and
// castellan_ready, all read at scrape time. Dashboards and alerts can then
// tell a restarted, leaking or descriptor-starved node without another
// exporter beside it.
#pragma once

#include <functional>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace castellan::monitor {

class process_collector final : public prometheus::Collectable {
 public:
  // `ready`: what /health/ready would answer now (cheap; the scrape's thread).
  explicit process_collector(std::function<bool()> ready);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::function<bool()> ready_;
};

}  // namespace castellan::monitor
