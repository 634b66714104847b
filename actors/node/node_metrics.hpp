// Every metric family of one node, registered in one Prometheus registry at
// start so that components get their handles at construction. Each family
// is declared beside its component (actors/audit/audit_metrics.hpp, ...);
// this only gathers them for the node and answers the monitor's questions.
#pragma once

#include <memory>
#include <vector>

#include "actors/audit/audit_metrics.hpp"
#include "actors/cluster/cluster_metrics.hpp"
#include "actors/limiter/limiter_metrics.hpp"
#include "actors/recovery/snapshot_metrics.hpp"
#include "actors/router/login_metrics.hpp"
#include "actors/runtime/supervision_metrics.hpp"
#include "actors/sessions/session_metrics.hpp"
#include "net/front_door_metrics.hpp"
#include "net/messages.hpp"
#include "net/request_metrics.hpp"
#include "net/request_stats.hpp"

namespace prometheus {
class Collectable;
}

namespace castellan::actors {

class node_metrics {
 public:
  // `request_metrics`: count requests by op and result (monitor.request_metrics).
  explicit node_metrics(bool request_metrics);
  ~node_metrics();

  // The components' gauges, for the monitor's summary.
  void read_gauges(net::metrics_summary_reply& summary) const;
  // What /metrics renders.
  std::vector<const prometheus::Collectable*> collectables() const;

  std::shared_ptr<prometheus::Registry> registry;
  std::unique_ptr<net::front_door_metrics> front_door;
  std::unique_ptr<audit_metrics> audit;
  std::unique_ptr<limiter_metrics> limiter;
  std::unique_ptr<login_metrics> logins;
  std::unique_ptr<session_metrics> sessions;
  std::unique_ptr<supervision_metrics> supervision;
  std::unique_ptr<snapshot_metrics> snapshots;
  // Registered on every node, so dashboards see the same series alone or in
  // a cluster (a node alone is one member, up).
  std::unique_ptr<cluster_metrics> cluster;
  // Requests by op/result and latency (null with monitor.request_metrics off).
  std::unique_ptr<net::request_stats> requests;
  std::unique_ptr<net::request_collector> request_collector;
};

}  // namespace castellan::actors
