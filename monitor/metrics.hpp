// Metric families, declared once per component (Envoy's ALL_*_STATS habit).
// Each component gets a struct of prometheus-cpp handles built by one
// function; docs/metrics.md is this list. Handles are thread-safe; hot paths
// add once per batch, not once per request.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
class Collectable;
template <typename T>
class Family;
}  // namespace prometheus

namespace castellan::monitor {

struct front_door_metrics {
  prometheus::Counter* connections_accepted = nullptr;  // castellan_connections_accepted_total
  prometheus::Gauge* connections_open = nullptr;        // castellan_connections_open
  prometheus::Counter* connections_rejected = nullptr;  // ..._connections_rejected_total (cap)
  prometheus::Counter* refused_too_large = nullptr;     // castellan_frames_refused_total{reason}
  prometheus::Counter* refused_not_msgpack = nullptr;
  prometheus::Counter* refused_bad_request = nullptr;
  prometheus::Counter* refused_bad_token = nullptr;     // castellan_tokens_refused_total
  prometheus::Counter* idle_closed = nullptr;           // castellan_connections_idle_closed_total
};

// Registers the front door's families in `registry`.
std::unique_ptr<front_door_metrics> make_front_door_metrics(prometheus::Registry& registry);

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

// Indexed by actors::key_kind (user, ip, user_ip).
struct limiter_metrics {
  std::array<prometheus::Counter*, 3> rejected{};  // castellan_limiter_rejections_total{kind}
  prometheus::Counter* lockouts = nullptr;         // castellan_limiter_lockouts_total
};
std::unique_ptr<limiter_metrics> make_limiter_metrics(prometheus::Registry& registry);

struct session_metrics {
  prometheus::Gauge* active = nullptr;             // castellan_sessions_active
  prometheus::Counter* opened = nullptr;           // castellan_sessions_opened_total
  prometheus::Counter* logged_out = nullptr;       // castellan_sessions_ended_total{reason="logout"}
  prometheus::Counter* expired = nullptr;          // ...{reason="expired"}
  prometheus::Counter* removed = nullptr;          // ...{reason="user_removed"} (disabled/removed users)
};
std::unique_ptr<session_metrics> make_session_metrics(prometheus::Registry& registry);

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
};
std::unique_ptr<supervision_metrics> make_supervision_metrics(prometheus::Registry& registry);

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

// The cluster, as this member sees it (actors/cluster_node.cpp).
inline constexpr size_t member_state_count = 6;
extern const char* const member_states[member_state_count];  // joining, up, suspect, down, leaving, left
struct cluster_metrics {
  prometheus::Gauge* members[member_state_count] = {};  // castellan_cluster_members{state}
  prometheus::Counter* forwarded = nullptr;        // castellan_cluster_forwarded_total{kind="request"}
  prometheus::Counter* forward_lost = nullptr;     // castellan_cluster_forward_failures_total
  prometheus::Counter* replicated = nullptr;       // castellan_cluster_replications_total{result="ok"}
  prometheus::Counter* replication_failed = nullptr;  // ...{result="failed"}
  prometheus::Counter* handover_sent = nullptr;    // castellan_cluster_handover_records_total{direction}
  prometheus::Counter* handover_received = nullptr;
  prometheus::Counter* peers_refused = nullptr;    // castellan_cluster_peers_refused_total
  prometheus::Counter* self_lost_majority = nullptr;  // castellan_cluster_minority_refusals_total
};
std::unique_ptr<cluster_metrics> make_cluster_metrics(prometheus::Registry& registry);

// Renders every collectable in the Prometheus text exposition format.
std::string render_text(const std::vector<const prometheus::Collectable*>& sources);

}  // namespace castellan::monitor
