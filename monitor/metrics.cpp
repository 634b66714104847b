// The metric families of each component, and text rendering for scrapes.
#include "monitor/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace castellan::monitor {

std::unique_ptr<front_door_metrics> make_front_door_metrics(prometheus::Registry& r) {
  auto m = std::make_unique<front_door_metrics>();
  m->connections_accepted = &prometheus::BuildCounter()
                                 .Name("castellan_connections_accepted_total")
                                 .Help("Client connections accepted")
                                 .Register(r)
                                 .Add({});
  m->connections_rejected = &prometheus::BuildCounter()
                                 .Name("castellan_connections_rejected_total")
                                 .Help("Client connections refused because max_connections was reached")
                                 .Register(r)
                                 .Add({});
  m->connections_open = &prometheus::BuildGauge()
                             .Name("castellan_connections_open")
                             .Help("Client connections currently open")
                             .Register(r)
                             .Add({});
  m->idle_closed = &prometheus::BuildCounter()
                        .Name("castellan_connections_idle_closed_total")
                        .Help("Client connections closed after idle_timeout_ms without traffic")
                        .Register(r)
                        .Add({});
  auto& refused = prometheus::BuildCounter()
                      .Name("castellan_frames_refused_total")
                      .Help("Frames refused by the front door, by reason")
                      .Register(r);
  m->refused_too_large = &refused.Add({{"reason", "too_large"}});
  m->refused_not_msgpack = &refused.Add({{"reason", "not_msgpack"}});
  m->refused_bad_request = &refused.Add({{"reason", "bad_request"}});
  m->refused_bad_token = &prometheus::BuildCounter()
                              .Name("castellan_tokens_refused_total")
                              .Help("Tokens refused at the front door (bad MAC, unknown key, damaged)")
                              .Register(r)
                              .Add({});
  return m;
}

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

std::unique_ptr<limiter_metrics> make_limiter_metrics(prometheus::Registry& r) {
  auto m = std::make_unique<limiter_metrics>();
  auto& rejected = prometheus::BuildCounter()
                       .Name("castellan_limiter_rejections_total")
                       .Help("Logins refused by the rate limiter before any password check, by key kind")
                       .Register(r);
  const char* kinds[3] = {"user", "ip", "user_ip"};
  for (size_t i = 0; i < 3; ++i)
    m->rejected[i] = &rejected.Add({{"kind", kinds[i]}});
  m->lockouts = &prometheus::BuildCounter()
                     .Name("castellan_limiter_lockouts_total")
                     .Help("Lockouts started after repeated failures")
                     .Register(r)
                     .Add({});
  return m;
}

std::unique_ptr<session_metrics> make_session_metrics(prometheus::Registry& r) {
  auto m = std::make_unique<session_metrics>();
  m->active = &prometheus::BuildGauge()
                   .Name("castellan_sessions_active")
                   .Help("Sessions held by this node's shards")
                   .Register(r)
                   .Add({});
  m->opened = &prometheus::BuildCounter()
                   .Name("castellan_sessions_opened_total")
                   .Help("Sessions opened by successful logins")
                   .Register(r)
                   .Add({});
  auto& ended = prometheus::BuildCounter()
                    .Name("castellan_sessions_ended_total")
                    .Help("Sessions ended, by reason")
                    .Register(r);
  m->logged_out = &ended.Add({{"reason", "logout"}});
  m->expired = &ended.Add({{"reason", "expired"}});
  m->removed = &ended.Add({{"reason", "user_removed"}});
  return m;
}

const char* const actor_kinds[actor_kind_count] = {"session_shard", "limiter_shard",
                                                    "audit_writer", "front_door_listener",
                                                    "monitor",       "supervisor"};

std::unique_ptr<supervision_metrics> make_supervision_metrics(prometheus::Registry& r) {
  auto m = std::make_unique<supervision_metrics>();
  auto& restarts = prometheus::BuildCounter()
                       .Name("castellan_actor_restarts_total")
                       .Help("Actors restarted by their supervisor, by kind")
                       .Register(r);
  for (size_t i = 0; i < actor_kind_count; ++i)
    m->restarts[i] = &restarts.Add({{"kind", actor_kinds[i]}});
  m->mailbox_depth = &prometheus::BuildGauge()
                          .Name("castellan_actor_mailbox_depth")
                          .Help("Messages waiting in an actor's mailbox, sampled after each work message")
                          .Register(r);
  return m;
}

prometheus::Counter* supervision_metrics::restarts_of(const std::string& kind) const {
  for (size_t i = 0; i < actor_kind_count; ++i)
    if (kind == actor_kinds[i])
      return restarts[i];
  return restarts[actor_kind_count - 1];
}

prometheus::Gauge* supervision_metrics::mailbox_of(const std::string& kind,
                                                   const std::string& instance) const {
  return &mailbox_depth->Add({{"kind", kind}, {"instance", instance}});
}

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

const char* const member_states[member_state_count] = {"joining", "up",      "suspect",
                                                      "down",    "leaving", "left"};

std::unique_ptr<cluster_metrics> make_cluster_metrics(prometheus::Registry& r) {
  auto m = std::make_unique<cluster_metrics>();
  auto& members = prometheus::BuildGauge()
                      .Name("castellan_cluster_members")
                      .Help("Cluster members (this one included) by state, as this member sees them")
                      .Register(r);
  for (size_t i = 0; i < member_state_count; ++i)
    m->members[i] = &members.Add({{"state", member_states[i]}});
  auto counter = [&r](const char* name, const char* help) -> prometheus::Family<prometheus::Counter>& {
    return prometheus::BuildCounter().Name(name).Help(help).Register(r);
  };
  auto& forwarded = counter("castellan_cluster_forwarded_total",
                            "Requests this member sent to their owner (batches of ops, logins, limiter checks)");
  m->forwarded = &forwarded.Add({});
  m->forward_lost = &counter("castellan_cluster_forward_failures_total",
                             "Forwarded requests answered unavailable: owner down or no answer in time")
                         .Add({});
  auto& replications = counter("castellan_cluster_replications_total",
                               "Session changes sent to the other holders, by outcome");
  m->replicated = &replications.Add({{"result", "ok"}});
  m->replication_failed = &replications.Add({{"result", "failed"}});
  auto& handover = counter("castellan_cluster_handover_records_total",
                           "Sessions and tombstones handed over when holders changed, by direction");
  m->handover_sent = &handover.Add({{"direction", "sent"}});
  m->handover_received = &handover.Add({{"direction", "received"}});
  m->peers_refused = &counter("castellan_cluster_peers_refused_total",
                              "Nodes refused for failing the cluster-secret handshake, and messages "
                              "dropped from unauthenticated nodes")
                          .Add({});
  m->self_lost_majority = &counter("castellan_cluster_minority_refusals_total",
                                   "Logins and refreshes refused because this member could not reach "
                                   "a majority of the cluster")
                               .Add({});
  return m;
}

std::string render_text(const std::vector<const prometheus::Collectable*>& sources) {
  std::vector<prometheus::MetricFamily> families;
  for (auto* s : sources) {
    auto more = s->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()),
                    std::make_move_iterator(more.end()));
  }
  prometheus::TextSerializer serializer;
  return serializer.Serialize(families);
}

}  // namespace castellan::monitor
