// One node's metric families; see node_metrics.hpp.
#include "actors/node/node_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace castellan::actors {

node_metrics::node_metrics(bool request_metrics)
    : registry(std::make_shared<prometheus::Registry>()),
      front_door(net::make_front_door_metrics(*registry)),
      audit(make_audit_metrics(*registry)),
      limiter(make_limiter_metrics(*registry)),
      logins(make_login_metrics(*registry)),
      sessions(make_session_metrics(*registry)),
      supervision(make_supervision_metrics(*registry)),
      snapshots(make_snapshot_metrics(*registry)),
      cluster(make_cluster_metrics(*registry)) {
  audit->mailbox_depth = supervision->mailbox_of("audit_writer", "0");
  if (!request_metrics)
    return;
  requests = std::make_unique<net::request_stats>();
  request_collector = std::make_unique<net::request_collector>(*requests);
}

node_metrics::~node_metrics() = default;

void node_metrics::read_gauges(net::metrics_summary_reply& s) const {
  s.sessions_active = sessions->active->held();
  s.connections_open = static_cast<uint64_t>(front_door->connections_open->Value());
  s.audit_writable = audit->writable->Value() > 0;
  s.audit_queue_depth = static_cast<uint64_t>(audit->queue_depth->Value());
  for (auto* c : limiter->rejected)
    s.limiter_rejections += static_cast<uint64_t>(c->Value());
  s.lockouts = static_cast<uint64_t>(limiter->lockouts->Value());
  s.actors = supervision->by_kind();
}

std::vector<const prometheus::Collectable*> node_metrics::collectables() const {
  std::vector<const prometheus::Collectable*> out{registry.get(), sessions->active.get()};
  if (request_collector)
    out.push_back(request_collector.get());
  return out;
}

}  // namespace castellan::actors
