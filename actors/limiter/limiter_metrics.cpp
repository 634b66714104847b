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
  m->refused_full = &prometheus::BuildCounter()
                         .Name("castellan_limiter_full_refusals_total")
                         .Help("Limiter checks refused because every key of the shard was "
                               "protected (lockout state is never evicted); the login is "
                               "refused unavailable")
                         .Register(r)
                         .Add({});
  m->evicted = &prometheus::BuildCounter()
                    .Name("castellan_limiter_evictions_total")
                    .Help("Unprotected keys evicted to make room for new ones (the table "
                          "is at limiter.max_keys)")
                    .Register(r)
                    .Add({});
  m->protected_keys = &prometheus::BuildGauge()
                           .Name("castellan_limiter_protected_keys")
                           .Help("Keys a limiter shard holds with a lockout in force, a "
                                 "backoff remembered or failures counting: never evicted")
                           .Register(r);
  return m;
}

prometheus::Gauge* limiter_metrics::protected_keys_of(size_t shard) const {
  return protected_keys ? &protected_keys->Add({{"shard", std::to_string(shard)}}) : nullptr;
}

}  // namespace castellan::actors
