// The session shards' metric families (docs/metrics.md, "Sessions"): sessions
// held, opened and ended by reason.
#pragma once

#include <memory>
#include <string>

#include "actors/sessions/session_count.hpp"
#include "net/prometheus_fwd.hpp"

namespace castellan::actors {

struct session_metrics {
  std::unique_ptr<session_count> active = std::make_unique<session_count>();  // castellan_sessions_active
  prometheus::Counter* opened = nullptr;           // castellan_sessions_opened_total
  prometheus::Counter* logged_out = nullptr;       // castellan_sessions_ended_total{reason="logout"}
  prometheus::Counter* expired = nullptr;          // ...{reason="expired"}
  prometheus::Counter* removed = nullptr;          // ...{reason="user_removed"} (disabled/removed users)
};
std::unique_ptr<session_metrics> make_session_metrics(prometheus::Registry& registry);

}  // namespace castellan::actors
