// The cluster's metric families as this member sees it (docs/metrics.md,
// "Cluster"): members by state, forwarding, replication, hand-over, refusals.
#pragma once

#include <memory>
#include <string>

#include "net/member_state.hpp"
#include "net/prometheus_fwd.hpp"

namespace castellan::actors {

// The cluster, as this member sees it (actors/cluster_node.cpp).
struct cluster_metrics {
  // castellan_cluster_members{state}, indexed by net::index_of(state).
  prometheus::Gauge* members[net::member_state_count] = {};
  prometheus::Gauge* members_in(net::member_state s) const { return members[net::index_of(s)]; }
  prometheus::Counter* forwarded = nullptr;        // castellan_cluster_forwarded_total{kind="request"}
  prometheus::Counter* forward_lost = nullptr;     // castellan_cluster_forward_failures_total
  prometheus::Counter* replicated = nullptr;       // castellan_cluster_replications_total{result="ok"}
  prometheus::Counter* replication_failed = nullptr;  // ...{result="failed"}
  prometheus::Counter* handover_sent = nullptr;    // castellan_cluster_handover_records_total{direction}
  prometheus::Counter* handover_received = nullptr;
  prometheus::Counter* peers_refused = nullptr;    // castellan_cluster_peers_refused_total
  prometheus::Counter* self_lost_majority = nullptr;  // castellan_cluster_minority_refusals_total
  prometheus::Counter* rejoins = nullptr;          // castellan_cluster_rejoins_total
  prometheus::Counter* lease_refusals = nullptr;   // castellan_cluster_lease_refusals_total
  prometheus::Counter* incomplete_refusals = nullptr;  // castellan_cluster_incomplete_refusals_total
  prometheus::Counter* view_refusals = nullptr;    // castellan_cluster_view_refusals_total
  prometheus::Counter* late_requests = nullptr;    // castellan_cluster_late_requests_total
  prometheus::Counter* tls_reloads_ok = nullptr;   // castellan_cluster_tls_reloads_total{result}
  prometheus::Counter* tls_reloads_failed = nullptr;
  prometheus::Gauge* tls_certificate_expiry = nullptr;  // ..._cluster_tls_certificate_expiry_timestamp_seconds
};
std::unique_ptr<cluster_metrics> make_cluster_metrics(prometheus::Registry& registry);

}  // namespace castellan::actors
