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
class Registry;
}  // namespace prometheus

namespace castellan::monitor {

// Indexed by net::op_kind (ping, login, validate, refresh, logout, unknown, health).
inline constexpr size_t op_kind_count = 7;

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

// Renders a registry in the Prometheus text exposition format.
std::string render_text(prometheus::Registry& registry);

}  // namespace castellan::monitor
