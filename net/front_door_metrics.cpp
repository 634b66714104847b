// Front door metrics: registration of the families; see front_door_metrics.hpp.
#include "net/front_door_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

namespace castellan::net {

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
  m->refused_read_budget = &refused.Add({{"reason", "read_budget"}});
  m->read_buffer_bytes = &prometheus::BuildGauge()
                              .Name("castellan_read_buffer_bytes")
                              .Help("Bytes client read buffers hold beyond their fixed 4 KiB "
                                    "(frames still arriving, larger batches); at most "
                                    "server.read_buffer_budget_bytes")
                              .Register(r)
                              .Add({});
  m->refused_bad_token = &prometheus::BuildCounter()
                              .Name("castellan_tokens_refused_total")
                              .Help("Tokens refused at the front door (bad MAC, unknown key, damaged)")
                              .Register(r)
                              .Add({});
  auto& handshakes = prometheus::BuildCounter()
                         .Name("castellan_tls_handshakes_total")
                         .Help("TLS handshakes on the client port, by result")
                         .Register(r);
  m->tls_handshakes_ok = &handshakes.Add({{"result", "ok"}});
  m->tls_handshakes_failed = &handshakes.Add({{"result", "failed"}});
  m->tls_handshakes_not_tls = &handshakes.Add({{"result", "not_tls"}});
  m->tls_handshakes_timed_out = &handshakes.Add({{"result", "timed_out"}});
  auto& reloads = prometheus::BuildCounter()
                      .Name("castellan_tls_reloads_total")
                      .Help("Reloads of the client port's certificate, key and client CAs, by result")
                      .Register(r);
  m->tls_reloads_ok = &reloads.Add({{"result", "ok"}});
  m->tls_reloads_failed = &reloads.Add({{"result", "failed"}});
  m->tls_certificate_expiry = &prometheus::BuildGauge()
                                   .Name("castellan_tls_certificate_expiry_timestamp_seconds")
                                   .Help("When the client port's certificate expires (Unix time); "
                                         "0 without TLS")
                                   .Register(r)
                                   .Add({});
  return m;
}

}  // namespace castellan::net
