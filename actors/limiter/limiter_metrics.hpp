// The rate limiter's metric families (docs/metrics.md, "Rate limiting").
// Handles are thread-safe; hot paths add once per batch, not once per request.
#pragma once

#include <array>
#include <memory>
#include <string>

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace castellan::actors {

// Indexed by actors::key_kind (user, ip, user_ip).
struct limiter_metrics {
  std::array<prometheus::Counter*, 3> rejected{};  // castellan_limiter_rejections_total{kind}
  prometheus::Counter* lockouts = nullptr;         // castellan_limiter_lockouts_total
};
std::unique_ptr<limiter_metrics> make_limiter_metrics(prometheus::Registry& registry);

}  // namespace castellan::actors
