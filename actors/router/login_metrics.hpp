// Login admission metrics (docs/metrics.md, "Logins"), and why a login's
// password check was not run.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "net/prometheus_fwd.hpp"

namespace castellan::actors {

// Why a login was refused before its password check (label `reason`).
enum class shed_reason : uint8_t {
  queue_full,  // users.max_pending_logins checks already wait
  wait,        // the checks ahead would take longer than users.login_max_wait_ms
  stale,       // admitted, but waited twice the bound: the estimate was wrong
  abandoned,   // its connection closed before its turn
  stopping,    // the node is stopping
};
inline constexpr std::array<const char*, 5> shed_reason_names{"queue_full", "wait", "stale",
                                                              "abandoned", "stopping"};
inline const char* to_string(shed_reason r) { return shed_reason_names[static_cast<size_t>(r)]; }

struct login_metrics {
  prometheus::Gauge* pending = nullptr;  // castellan_logins_pending
  // castellan_logins_shed_total{reason}, indexed by shed_reason.
  std::array<prometheus::Counter*, shed_reason_names.size()> shed{};
  prometheus::Counter* joined = nullptr;  // castellan_logins_joined_total
};
std::unique_ptr<login_metrics> make_login_metrics(prometheus::Registry& registry);

}  // namespace castellan::actors
