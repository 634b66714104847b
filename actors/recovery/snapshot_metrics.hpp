// Snapshots' and recovery's metric families (docs/metrics.md, "Snapshots and
// recovery").
#pragma once

#include <memory>
#include <string>

#include "net/prometheus_fwd.hpp"

namespace castellan::actors {

// Snapshots and recovery (actors/snapshotter.hpp, node start).
struct snapshot_metrics {
  prometheus::Counter* written = nullptr;   // castellan_snapshots_written_total
  prometheus::Counter* failed = nullptr;    // castellan_snapshot_failures_total
  prometheus::Gauge* seconds = nullptr;     // castellan_snapshot_last_duration_seconds
  prometheus::Gauge* bytes = nullptr;       // castellan_snapshot_last_bytes
  prometheus::Gauge* position = nullptr;    // castellan_snapshot_last_position
  prometheus::Gauge* recovery_seconds = nullptr;    // castellan_recovery_duration_seconds
  prometheus::Gauge* recovered_sessions = nullptr;  // castellan_recovered_sessions
};
std::unique_ptr<snapshot_metrics> make_snapshot_metrics(prometheus::Registry& registry);

}  // namespace castellan::actors
