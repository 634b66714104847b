// The rate limiter's metric families (docs/metrics.md, "Rate limiting").
#pragma once

#include <array>
#include <memory>
#include <string>

#include "net/prometheus_fwd.hpp"

namespace castellan::actors {

// Indexed by actors::key_kind (user, ip, user_ip).
struct limiter_metrics {
  std::array<prometheus::Counter*, 3> rejected{};  // castellan_limiter_rejections_total{kind}
  prometheus::Counter* lockouts = nullptr;         // castellan_limiter_lockouts_total
  prometheus::Counter* refused_full = nullptr;     // castellan_limiter_full_refusals_total
  prometheus::Counter* evicted = nullptr;          // castellan_limiter_evictions_total
  // castellan_limiter_protected_keys{shard}: each shard sets its own.
  prometheus::Family<prometheus::Gauge>* protected_keys = nullptr;
  prometheus::Gauge* protected_keys_of(size_t shard) const;
};
std::unique_ptr<limiter_metrics> make_limiter_metrics(prometheus::Registry& registry);

}  // namespace castellan::actors
