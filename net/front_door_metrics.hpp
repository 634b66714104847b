// The front door's metric families (docs/metrics.md, "Front door"): connections,
// frames refused and the bytes read buffers hold. Declared beside the component
// that counts them.
#pragma once

#include <memory>
#include <string>

#include "net/prometheus_fwd.hpp"

namespace castellan::net {

struct front_door_metrics {
  prometheus::Counter* connections_accepted = nullptr;  // castellan_connections_accepted_total
  prometheus::Gauge* connections_open = nullptr;        // castellan_connections_open
  prometheus::Counter* connections_rejected = nullptr;  // ..._connections_rejected_total (cap)
  prometheus::Counter* refused_too_large = nullptr;     // castellan_frames_refused_total{reason}
  prometheus::Counter* refused_not_msgpack = nullptr;
  prometheus::Counter* refused_bad_request = nullptr;
  prometheus::Counter* refused_read_budget = nullptr;   // partial frames over the budget
  prometheus::Gauge* read_buffer_bytes = nullptr;       // castellan_read_buffer_bytes
  prometheus::Counter* refused_bad_token = nullptr;     // castellan_tokens_refused_total
  prometheus::Counter* idle_closed = nullptr;           // castellan_connections_idle_closed_total
  // castellan_tls_handshakes_total{result}
  prometheus::Counter* tls_handshakes_ok = nullptr;
  prometheus::Counter* tls_handshakes_failed = nullptr;    // refused by TLS (version, certificate)
  prometheus::Counter* tls_handshakes_not_tls = nullptr;   // a plaintext client on the TLS port
  prometheus::Counter* tls_handshakes_timed_out = nullptr; // server.tls.handshake_timeout_ms
  prometheus::Counter* tls_reloads_ok = nullptr;           // castellan_tls_reloads_total{result}
  prometheus::Counter* tls_reloads_failed = nullptr;
  prometheus::Gauge* tls_certificate_expiry = nullptr;     // ..._tls_certificate_expiry_timestamp_seconds
};

// Registers the front door's families in `registry`.
std::unique_ptr<front_door_metrics> make_front_door_metrics(prometheus::Registry& registry);

}  // namespace castellan::net
