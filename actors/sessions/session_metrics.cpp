// Session metrics: registration of the families; see session_metrics.hpp.
#include "actors/sessions/session_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

namespace castellan::actors {

std::unique_ptr<session_metrics> make_session_metrics(prometheus::Registry& r) {
  auto m = std::make_unique<session_metrics>();
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

}  // namespace castellan::actors
