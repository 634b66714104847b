// Snapshot metrics: registration of the families; see snapshot_metrics.hpp.
#include "actors/recovery/snapshot_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

namespace castellan::actors {

std::unique_ptr<snapshot_metrics> make_snapshot_metrics(prometheus::Registry& r) {
  auto m = std::make_unique<snapshot_metrics>();
  auto gauge = [&r](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
  };
  auto counter = [&r](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
  };
  m->written = counter("castellan_snapshots_written_total", "Session snapshots written");
  m->failed = counter("castellan_snapshot_failures_total",
                      "Snapshots that could not be written (recovery then replays more of the log)");
  m->seconds = gauge("castellan_snapshot_last_duration_seconds",
                     "Time the last snapshot took: replay of the log since the previous one, then write and sync");
  m->bytes = gauge("castellan_snapshot_last_bytes", "Size of the last snapshot");
  m->position = gauge("castellan_snapshot_last_position",
                      "Audit log position the last snapshot covers (records below it)");
  m->recovery_seconds = gauge("castellan_recovery_duration_seconds",
                              "Time the start-up recovery took (snapshot load and log replay)");
  m->recovered_sessions = gauge("castellan_recovered_sessions", "Sessions restored at start-up");
  return m;
}

}  // namespace castellan::actors
