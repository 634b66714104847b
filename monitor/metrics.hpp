// Metric families, declared once per component (Envoy's ALL_*_STATS habit).
// Each component gets a struct of prometheus-cpp handles built by one
// function; docs/metrics.md is this list. Handles are thread-safe; hot paths
// add once per batch, not once per request.
#pragma once

#include <array>
#include <memory>
#include <string>

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
}  // namespace prometheus

namespace castellan::monitor {

// Indexed by net::op_kind (ping, login, validate, refresh, logout, unknown,
// health, debug_crash).
inline constexpr size_t op_kind_count = 8;

struct front_door_metrics {
  prometheus::Counter* connections_accepted = nullptr;  // castellan_connections_accepted_total
  prometheus::Gauge* connections_open = nullptr;        // castellan_connections_open
  prometheus::Counter* connections_rejected = nullptr;  // ..._connections_rejected_total (cap)
  std::array<prometheus::Counter*, op_kind_count> requests{};  // castellan_requests_total{op}
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
// audit_writer, supervisor (a subtree restarted by the root).
struct supervision_metrics {
  std::array<prometheus::Counter*, 4> restarts{};
  prometheus::Counter* restarts_of(const std::string& kind) const;
};
std::unique_ptr<supervision_metrics> make_supervision_metrics(prometheus::Registry& registry);

// Renders a registry in the Prometheus text exposition format.
std::string render_text(prometheus::Registry& registry);

}  // namespace castellan::monitor
