// session_count; see session_count.hpp.
#include "actors/sessions/session_count.hpp"

#include "actors/sessions/session_table.hpp"

namespace castellan::actors {

void session_count::track(std::vector<std::shared_ptr<const session_table>> tables) {
  std::lock_guard<std::mutex> guard(mutex_);
  tables_ = std::move(tables);
}

uint64_t session_count::held() const {
  std::lock_guard<std::mutex> guard(mutex_);
  uint64_t n = 0;
  for (auto& t : tables_)
    n += t->held();
  return n;
}

std::vector<prometheus::MetricFamily> session_count::Collect() const {
  prometheus::MetricFamily family{"castellan_sessions_active", "Sessions held by this node's shards",
                                  prometheus::MetricType::Gauge, {}};
  prometheus::ClientMetric m;
  m.gauge.value = static_cast<double>(held());
  family.metric.push_back(std::move(m));
  return {std::move(family)};
}

}  // namespace castellan::actors
