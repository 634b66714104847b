// The node as a cluster member: joining through the seeds, leaving on
// SIGTERM, and the cluster as this member sees it (readiness, /cluster).
// Outside a cluster a node is a one-member view of itself, up.
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/exit_reason.hpp>
#include <prometheus/gauge.h>

#include "actors/node/node_impl.hpp"
#include "actors/runtime/atoms.hpp"
#include "config/logging.hpp"
#include "monitor/cluster_status.hpp"
#include "net/wall_clock.hpp"

namespace castellan::actors {

// [cluster.tls]: the files are checked before anything starts (a node
// whose certificate no member would accept exits here, naming the key), and
// CAF's OpenSSL module gets the in-memory copies (cluster_tls.hpp).
void node::impl::configure_cluster_tls() {
  auto& tls = settings.cluster.tls;
  if (!tls.enabled())
    return;
  auto material = load_cluster_tls(tls);
  cluster_tls = std::make_shared<cluster_tls_copies>(material);
  metrics.cluster->tls_certificate_expiry->Set(static_cast<double>(material.not_after_s));
  caf_config->openssl_certificate = cluster_tls->chain_and_key_path();
  caf_config->openssl_key = cluster_tls->chain_and_key_path();
  caf_config->openssl_cafile = cluster_tls->ca_path();
  caf_config->load<caf::openssl::manager>();
}

// SIGHUP: the watch re-reads the files now; whether they loaded.
bool node::impl::reload_cluster_tls() {
  if (!cluster_tls_watch)
    return false;
  caf::scoped_actor self{*system};
  bool loaded = false;
  self->request(cluster_tls_watch, std::chrono::seconds(10), reload_atom_v)
      .receive([&](bool ok) { loaded = ok; }, [](caf::error&) {});
  return loaded;
}

// Joins through the seeds; from here on the front door routes by owner
// and writes wait for their replicas. The cluster node is unsupervised: it
// holds no state worth restarting for, and its death fails the node (exit 3)
// rather than leaving a member that silently stopped replicating.
void node::impl::start_cluster() {
  if (!settings.cluster.enabled) {
    metrics.cluster->members_in(net::member_state::up)->Set(1);  // itself
    return;
  }
  auto& c = settings.cluster;
  membership = std::make_unique<cluster_backend>(*router, actors.shards, actors.limiters,
                                                 settings.node.name, c.replicas,
                                                 metrics.cluster->self_lost_majority,
                                                 metrics.cluster->lease_refusals,
                                                 metrics.cluster->incomplete_refusals);
  cluster_deps deps;
  deps.cfg = c;
  deps.metrics = metrics.cluster.get();
  deps.secret = settings.cluster_secret();
  deps.self.name = settings.node.name;
  deps.self.address = c.host + ":" + std::to_string(c.port);
  deps.self.client = settings.server.host + ":" + std::to_string(settings.server.port);
  deps.self.incarnation = static_cast<uint64_t>(started_ms);
  deps.dialer = cluster_tls ? system->openssl_manager().actor_handle()
                            : system->middleman().actor_handle();
  deps.host = membership->host([this] { return member_load(); });
  cluster_node = spawn_cluster_node(*system, std::move(deps));
  membership->attach(cluster_node);
  membership_view = membership.get();
  events->set_replication(membership.get());
  limits->set_link(membership.get());
  stops.push("cluster node", [this] {
    stopping = true;  // its death is no failure now
    caf::scoped_actor self{*system};
    self->send_exit(cluster_node, caf::exit_reason::user_shutdown);
    self->wait_for(cluster_node);
  });
  auto published = cluster_tls
                       ? caf::openssl::publish(cluster_node, c.port, c.host.c_str(), true)
                       : system->middleman().publish(cluster_node, c.port, c.host.c_str(), true);
  if (!published)
    throw std::runtime_error("cannot open the cluster port " + c.host + ":" +
                             std::to_string(c.port) + ": " + system->render(published.error()));
  cluster_watcher = watch_for_failure(*system, cluster_node, &on_failure, &stopping);
  if (cluster_tls) {
    cluster_tls_watch = spawn_cluster_tls_watch(*system, c.tls, cluster_tls, metrics.cluster.get());
    stops.push("cluster TLS watch", [this] {
      caf::anon_send_exit(cluster_tls_watch, caf::exit_reason::user_shutdown);
      cluster_tls_watch = nullptr;
    });
  }
  spdlog::info("cluster: {} listening on {}:{}{}, seeds: {}", settings.node.name, c.host, c.port,
               cluster_tls ? " (TLS)" : "", c.seeds.size());
  if (!cluster_tls && !config::is_loopback_address(c.host))
    spdlog::warn("cluster: members connect to {}:{} without TLS: session records cross the network "
                 "in clear (authenticated, not encrypted) unless the network is private (set "
                 "[cluster.tls], docs/cluster.md)", c.host, c.port);
}

// What this member tells the others of its load (from the monitor's summary).
net::member_load node::impl::member_load() {
  auto s = board->summary();
  return s ? monitor::load_of(*s) : net::member_load{};
}

// SIGTERM: stop owning, hand every range over, tell the members; bounded.
void node::impl::leave_cluster() {
  if (!cluster_node)
    return;
  caf::scoped_actor self{*system};
  bool left = false;
  self->request(cluster_node, std::chrono::milliseconds(settings.cluster.leave_timeout_ms),
                leave_atom_v)
      .receive([&](bool) { left = true; },
               [&](caf::error& err) {
                 spdlog::warn("cluster: leaving did not complete: {}", system->render(err));
               });
  if (left)
    spdlog::info("cluster: left; every range handed over");
}

// Why this member cannot serve everything now ("" when it can).
std::string node::impl::cluster_not_ready() const {
  auto* m = membership_view.load();
  auto view = m ? m->view() : nullptr;
  if (!view)
    return "";
  auto me = view->members.front().info.state;
  if (me != net::member_state::up)
    return me == net::member_state::joining ? "joining: not owning ranges yet"
                                            : std::string(net::to_string(me));
  if (!view->majority())
    return "cannot reach a majority of the members: logins and refreshes are refused";
  return "";
}

// Every member as this node sees it; a node alone is a one-member cluster of
// itself, from the monitor's latest summary. One shape either way; "" while
// nothing is known yet.
std::string node::impl::cluster_json() {
  auto now = net::wall_ms();
  if (auto* m = membership_view.load())
    if (auto view = m->view())
      return monitor::cluster_json(status_of(*view), now);
  auto summary = board->summary();
  if (!summary)
    return "";
  auto src = monitor_sources();
  auto alone = monitor::lone_node_status(src.node, src.address(), src.started_ms, *summary, now);
  return monitor::cluster_json(alone, now);
}

}  // namespace castellan::actors
