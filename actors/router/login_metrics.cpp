// Login admission metrics: registration of the families; see login_metrics.hpp.
#include "actors/router/login_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace castellan::actors {

std::unique_ptr<login_metrics> make_login_metrics(prometheus::Registry& r) {
  auto m = std::make_unique<login_metrics>();
  m->pending = &prometheus::BuildGauge()
                    .Name("castellan_logins_pending")
                    .Help("Logins waiting for a password thread or being checked")
                    .Register(r)
                    .Add({});
  auto& shed = prometheus::BuildCounter()
                   .Name("castellan_logins_shed_total")
                   .Help("Logins refused unavailable before their password check, by reason: "
                         "queue_full, wait (the expected wait exceeded users.login_max_wait_ms), "
                         "stale, abandoned (the connection closed), stopping")
                   .Register(r);
  for (size_t i = 0; i < shed_reason_names.size(); ++i)
    m->shed[i] = &shed.Add({{"reason", shed_reason_names[i]}});
  m->joined = &prometheus::BuildCounter()
                   .Name("castellan_logins_joined_total")
                   .Help("Logins answered by an identical login's checks already in progress "
                         "(same user, address and password): no limiter allowance or argon2 time of their own")
                   .Register(r)
                   .Add({});
  return m;
}

}  // namespace castellan::actors
