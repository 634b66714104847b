// The audit writer's metric families (docs/metrics.md, "Audit"): records,
// bytes, group commits and whether the log can be written.
#pragma once

#include <memory>
#include <string>

#include "net/prometheus_fwd.hpp"

namespace castellan::actors {

struct audit_metrics {
  prometheus::Counter* records = nullptr;          // castellan_audit_records_total
  prometheus::Counter* bytes = nullptr;            // castellan_audit_bytes_written_total
  prometheus::Counter* commit_failures = nullptr;  // castellan_audit_commit_failures_total
  prometheus::Histogram* commit_seconds = nullptr; // castellan_audit_commit_seconds (write + fdatasync)
  prometheus::Gauge* queue_depth = nullptr;        // castellan_audit_queue_depth (appends awaiting a commit)
  prometheus::Gauge* writable = nullptr;           // castellan_audit_writable (1/0)
  prometheus::Gauge* mailbox_depth = nullptr;      // the writer's, set by whoever builds the tree
};
std::unique_ptr<audit_metrics> make_audit_metrics(prometheus::Registry& registry);

}  // namespace castellan::actors
