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
};
std::unique_ptr<limiter_metrics> make_limiter_metrics(prometheus::Registry& registry);

}  // namespace castellan::actors
