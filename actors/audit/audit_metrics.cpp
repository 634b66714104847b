// Audit metrics: registration of the families; see audit_metrics.hpp.
#include "actors/audit/audit_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

namespace castellan::actors {

std::unique_ptr<audit_metrics> make_audit_metrics(prometheus::Registry& r) {
  auto m = std::make_unique<audit_metrics>();
  m->records = &prometheus::BuildCounter()
                    .Name("castellan_audit_records_total")
                    .Help("Audit records made durable")
                    .Register(r)
                    .Add({});
  m->bytes = &prometheus::BuildCounter()
                  .Name("castellan_audit_bytes_written_total")
                  .Help("Bytes written to audit segments")
                  .Register(r)
                  .Add({});
  m->commit_failures = &prometheus::BuildCounter()
                            .Name("castellan_audit_commit_failures_total")
                            .Help("Group commits that failed (their requests got unavailable)")
                            .Register(r)
                            .Add({});
  m->commit_seconds = &prometheus::BuildHistogram()
                           .Name("castellan_audit_commit_seconds")
                           .Help("Time of one group commit: write and fdatasync")
                           .Register(r)
                           .Add({}, prometheus::Histogram::BucketBoundaries{
                                        0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025,
                                        0.05, 0.1, 0.25, 1});
  m->queue_depth = &prometheus::BuildGauge()
                        .Name("castellan_audit_queue_depth")
                        .Help("Appends waiting for the group commit in progress")
                        .Register(r)
                        .Add({});
  m->writable = &prometheus::BuildGauge()
                     .Name("castellan_audit_writable")
                     .Help("1 when the audit log can be written; 0: security writes fail closed")
                     .Register(r)
                     .Add({});
  m->writable->Set(1);
  return m;
}

}  // namespace castellan::actors
