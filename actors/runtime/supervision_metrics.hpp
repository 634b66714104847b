// Supervision's metric families (docs/metrics.md, "Supervision"): restarts
// by actor kind and mailbox depth by actor.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "net/messages.hpp"

#include "net/prometheus_fwd.hpp"

namespace castellan::actors {

// castellan_actor_restarts_total{kind}: session_shard, limiter_shard,
// audit_writer, front_door_listener, monitor, supervisor (a subtree
// restarted by the root).
// castellan_actor_mailbox_depth{kind,instance}: messages waiting, sampled by
// each actor after every work message (sum by kind for the kind's backlog).
inline constexpr size_t actor_kind_count = 6;
extern const char* const actor_kinds[actor_kind_count];

struct supervision_metrics {
  std::array<prometheus::Counter*, actor_kind_count> restarts{};
  prometheus::Family<prometheus::Gauge>* mailbox_depth = nullptr;
  prometheus::Counter* restarts_of(const std::string& kind) const;
  // A new gauge for one actor instance (thread-safe).
  prometheus::Gauge* mailbox_of(const std::string& kind, const std::string& instance) const;
  // Restarts and mailbox depth summed by kind, for the monitor's summary.
  std::vector<net::actor_kind_summary> by_kind() const;
};
std::unique_ptr<supervision_metrics> make_supervision_metrics(prometheus::Registry& registry);

}  // namespace castellan::actors
