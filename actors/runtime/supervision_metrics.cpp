// Supervision metrics: registration of the families; see supervision_metrics.hpp.
#include "actors/runtime/supervision_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

namespace castellan::actors {

const char* const actor_kinds[actor_kind_count] = {"session_shard", "limiter_shard",
                                                    "audit_writer", "front_door_listener",
                                                    "monitor",       "supervisor"};

std::unique_ptr<supervision_metrics> make_supervision_metrics(prometheus::Registry& r) {
  auto m = std::make_unique<supervision_metrics>();
  auto& restarts = prometheus::BuildCounter()
                       .Name("castellan_actor_restarts_total")
                       .Help("Actors restarted by their supervisor, by kind")
                       .Register(r);
  for (size_t i = 0; i < actor_kind_count; ++i)
    m->restarts[i] = &restarts.Add({{"kind", actor_kinds[i]}});
  m->mailbox_depth = &prometheus::BuildGauge()
                          .Name("castellan_actor_mailbox_depth")
                          .Help("Messages waiting in an actor's mailbox, sampled after each work message")
                          .Register(r);
  return m;
}

prometheus::Counter* supervision_metrics::restarts_of(const std::string& kind) const {
  for (size_t i = 0; i < actor_kind_count; ++i)
    if (kind == actor_kinds[i])
      return restarts[i];
  return restarts[actor_kind_count - 1];
}

prometheus::Gauge* supervision_metrics::mailbox_of(const std::string& kind,
                                                   const std::string& instance) const {
  return &mailbox_depth->Add({{"kind", kind}, {"instance", instance}});
}

std::vector<net::actor_kind_summary> supervision_metrics::by_kind() const {
  std::vector<net::actor_kind_summary> out;
  for (size_t i = 0; i < actor_kind_count; ++i)
    out.push_back({actor_kinds[i], static_cast<uint64_t>(restarts[i]->Value()), 0});
  for (auto& family : mailbox_depth->Collect())
    for (auto& metric : family.metric)
      for (auto& label : metric.label)
        if (label.name == "kind")
          for (auto& a : out)
            if (a.kind == label.value)
              a.mailbox_depth += static_cast<uint64_t>(metric.gauge.value);
  return out;
}

}  // namespace castellan::actors
