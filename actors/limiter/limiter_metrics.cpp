// Limiter metrics: registration of the families; see limiter_metrics.hpp.
#include "actors/limiter/limiter_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

namespace castellan::actors {

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

}  // namespace castellan::actors
