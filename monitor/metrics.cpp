// The metric families of each component, and text rendering for scrapes.
#include "monitor/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
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
  auto& requests = prometheus::BuildCounter()
                       .Name("castellan_requests_total")
                       .Help("Well-formed requests received, by op")
                       .Register(r);
  const char* ops[op_kind_count] = {"ping",   "login",   "validate", "refresh",
                                    "logout", "unknown", "health"};
  for (size_t i = 0; i < op_kind_count; ++i)
    m->requests[i] = &requests.Add({{"op", ops[i]}});
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

std::string render_text(prometheus::Registry& registry) {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry.Collect());
}

}  // namespace castellan::monitor
