// Cluster metrics: registration of the families; see cluster_metrics.hpp.
#include "actors/cluster/cluster_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

namespace castellan::actors {

// node_tree.cpp counts a node outside a cluster as members[1], up.
static_assert(net::index_of(net::member_state::up) == 1);

std::unique_ptr<cluster_metrics> make_cluster_metrics(prometheus::Registry& r) {
  auto m = std::make_unique<cluster_metrics>();
  auto& members = prometheus::BuildGauge()
                      .Name("castellan_cluster_members")
                      .Help("Cluster members (this one included) by state, as this member sees them")
                      .Register(r);
  for (auto state : net::all_member_states)
    m->members[net::index_of(state)] = &members.Add({{"state", std::string(net::to_string(state))}});
  auto counter = [&r](const char* name, const char* help) -> prometheus::Family<prometheus::Counter>& {
    return prometheus::BuildCounter().Name(name).Help(help).Register(r);
  };
  auto& forwarded = counter("castellan_cluster_forwarded_total",
                            "Requests this member sent to their owner (batches of ops, logins, limiter checks)");
  m->forwarded = &forwarded.Add({});
  m->forward_lost = &counter("castellan_cluster_forward_failures_total",
                             "Forwarded requests answered unavailable: owner down or no answer in time")
                         .Add({});
  auto& replications = counter("castellan_cluster_replications_total",
                               "Session changes sent to the other holders, by outcome");
  m->replicated = &replications.Add({{"result", "ok"}});
  m->replication_failed = &replications.Add({{"result", "failed"}});
  auto& handover = counter("castellan_cluster_handover_records_total",
                           "Sessions and tombstones handed over when holders changed, by direction");
  m->handover_sent = &handover.Add({{"direction", "sent"}});
  m->handover_received = &handover.Add({{"direction", "received"}});
  m->peers_refused = &counter("castellan_cluster_peers_refused_total",
                              "Nodes refused for failing the cluster-secret handshake, and messages "
                              "dropped from unauthenticated nodes")
                          .Add({});
  m->self_lost_majority = &counter("castellan_cluster_minority_refusals_total",
                                   "Logins and refreshes refused because this member could not reach "
                                   "a majority of the cluster")
                               .Add({});
  m->rejoins = &counter("castellan_cluster_rejoins_total",
                        "Times this member came back as a new incarnation because others found it "
                        "down (or it was paused as long as that takes)")
                   .Add({});
  m->lease_refusals = &counter("castellan_cluster_lease_refusals_total",
                               "Owner reads and refreshes refused because this member's lease had "
                               "lapsed (a majority has not heard it recently)")
                          .Add({});
  m->incomplete_refusals =
      &counter("castellan_cluster_incomplete_refusals_total",
               "Session requests answered unavailable because this member owns the key but does "
               "not hold its complete copy (a hand-over under way, or all its holders down)")
           .Add({});
  m->view_refusals =
      &counter("castellan_cluster_view_refusals_total",
               "Replicated session writes this member refused because their owner placed them "
               "under other holders than this member sees (views still differ)")
           .Add({});
  m->late_requests =
      &counter("castellan_cluster_late_requests_total",
               "Forwarded requests and revokes dropped because they arrived after their asker's "
               "deadline (the asker had answered unavailable)")
           .Add({});
  auto& reloads = counter("castellan_cluster_tls_reloads_total",
                          "Reloads of the cluster port's certificate, key and CA ([cluster.tls]), by result");
  m->tls_reloads_ok = &reloads.Add({{"result", "ok"}});
  m->tls_reloads_failed = &reloads.Add({{"result", "failed"}});
  m->tls_certificate_expiry =
      &prometheus::BuildGauge()
           .Name("castellan_cluster_tls_certificate_expiry_timestamp_seconds")
           .Help("When this member's cluster certificate expires (Unix time); 0 without TLS "
                 "between members")
           .Register(r)
           .Add({});
  return m;
}

}  // namespace castellan::actors
