// The whole of one authd node, assembled top to bottom in start order:
//
//   keys, users              (files: loaded before anything can answer)
//   audit log                (opened; a torn tail from a crash is cut)
//   recovery                 (newest valid snapshot + log tail -> session and
//                             limiter tables, before any actor or client)
//   actor system             (CAF runtime: scheduler_threads workers)
//   root supervisor          rest_for_one: a subtree restarts those after it
//   ├── audit supervisor     one_for_one
//   │   └── audit writer     (detached; starts first, stops last)
//   ├── limiter supervisor   one_for_one
//   │   └── limiter shard × L (GCRA buckets and lockouts; tables outlive restarts)
//   ├── session supervisor   one_for_one
//   │   └── session shard × N (sessions; tables outlive restarts)
//   ├── user directory       (detached: reloads the users file)
//   ├── key directory        (detached: token keys rotated / retired)
//   └── monitor              (aggregates health and rates every interval)
//   event stream             (events -> audit writer, login outcomes -> limiter)
//   password pool            (dedicated argon2 threads, never CAF's)
//   session router           (front door -> limiter / pool / shards)
//   cluster node             ([cluster] on: membership, forwarding, replication;
//                             cluster_node.cpp; the front door then goes through
//                             the cluster backend, which routes by owner)
//   monitor endpoint         (HTTP: /metrics, /health/live, /health/ready, /cluster)
//   snapshotter              (own thread: the log's projection, every N records / T s)
//   front door               (Asio listener: opened last, closed first)
//
// stop() runs the same list backwards, so nothing is accepted that cannot be
// recorded, and the audit writer commits the last events before it goes. If
// the root supervisor gives up (restart intensity exceeded), the node's
// failure handler runs: authd logs why and exits non-zero.
#include "actors/node/node.hpp"

#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_actor.hpp>
#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "actors/storage/audit_log.hpp"
#include "actors/cluster/cluster_backend.hpp"
#include "actors/runtime/crash_targets.hpp"
#include "actors/directory/key_directory.hpp"
#include "actors/recovery/session_projection.hpp"
#include "actors/router/session_router.hpp"
#include "actors/sessions/session_table.hpp"
#include "actors/recovery/snapshotter.hpp"
#include "actors/recovery/table_restore.hpp"
#include "actors/runtime/supervisor.hpp"
#include "actors/directory/user_directory.hpp"
#include "config/password_hash.hpp"
#include "monitor/http_endpoint.hpp"
#include "actors/audit/audit_metrics.hpp"
#include "actors/cluster/cluster_metrics.hpp"
#include "actors/limiter/limiter_metrics.hpp"
#include "actors/recovery/snapshot_metrics.hpp"
#include "actors/runtime/supervision_metrics.hpp"
#include "actors/sessions/session_metrics.hpp"
#include "monitor/metrics.hpp"
#include "net/front_door_metrics.hpp"
#include "monitor/monitor_actor.hpp"
#include "net/request_metrics.hpp"
#include "net/front_door.hpp"
#include "net/key_file.hpp"
#include "net/wall_clock.hpp"

namespace castellan::actors {
namespace {

rate_policy to_policy(const config::limit_policy_config& c) {
  return {c.rate_per_s, c.burst, c.lockout_after, c.lockout_base_ms, c.lockout_max_ms};
}

rate_policies policies_of(const config::limiter_config& c) {
  return {to_policy(c.user), to_policy(c.ip), to_policy(c.user_ip)};
}

// user_changed events for what differs between two snapshots of the users file.
std::vector<net::auth_event> user_changes(const event_stream& events,
                                          const config::users_table& before,
                                          const config::users_table& after) {
  std::vector<net::auth_event> out;
  for (auto& [name, reason] : config::diff_users(before, after)) {
    auto e = events.make(net::event_kind::user_changed);
    e.user = name;
    e.reason = reason;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

struct node::impl {
  config::node_settings settings;
  std::shared_ptr<const net::keyring> keys;  // in force; replaced by the key directory
  std::mutex keys_mutex;
  std::shared_ptr<audit_log> log;
  std::shared_ptr<audit_health> audit = std::make_shared<audit_health>();
  std::unique_ptr<caf::actor_system_config> caf_config;
  std::unique_ptr<caf::actor_system> system;
  // The current handle of every supervised actor, and the state that
  // outlives their restarts.
  slot_ptr<audit_writer> writer = make_slot<audit_writer>();
  std::vector<slot_ptr<limiter_shard>> limiters;
  std::vector<slot_ptr<session_shard>> shards;
  std::vector<std::shared_ptr<limiter_table>> limiter_tables;
  std::vector<std::shared_ptr<session_table>> session_tables;
  slot_ptr<caf::actor> user_directory = make_slot<caf::actor>();
  slot_ptr<caf::actor> limiter_supervisor = make_slot<caf::actor>();
  slot_ptr<caf::actor> session_supervisor = make_slot<caf::actor>();
  caf::actor root;
  caf::actor root_watcher;
  std::function<void(const std::string&)> on_failure;
  std::atomic<bool> stopping{false};
  std::shared_ptr<event_stream> events;
  std::shared_ptr<login_limits> limits;
  std::unique_ptr<password_pool> pool;
  std::unique_ptr<session_router> router;
  std::unique_ptr<cluster_backend> membership;  // null outside a cluster
  // The same, for readers on other threads (monitor, HTTP) while it is set up.
  std::atomic<const cluster_backend*> membership_view{nullptr};
  caf::actor cluster_node;
  caf::actor cluster_watcher;
  // Metrics first: every component gets its handles at construction.
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<net::front_door_metrics> front_door_metrics =
      net::make_front_door_metrics(*registry);
  std::unique_ptr<actors::audit_metrics> audit_metrics = actors::make_audit_metrics(*registry);
  std::unique_ptr<actors::limiter_metrics> limiter_metrics =
      actors::make_limiter_metrics(*registry);
  std::unique_ptr<actors::session_metrics> session_metrics =
      actors::make_session_metrics(*registry);
  std::unique_ptr<actors::supervision_metrics> supervision_metrics =
      actors::make_supervision_metrics(*registry);
  std::unique_ptr<actors::snapshot_metrics> snapshot_metrics =
      actors::make_snapshot_metrics(*registry);
  // Registered on every node, so dashboards see the same series alone or in
  // a cluster (a node alone is one member, up).
  std::unique_ptr<actors::cluster_metrics> cluster_metrics = actors::make_cluster_metrics(*registry);
  uint64_t covered = 1;  // log position of the newest snapshot at start
  std::unique_ptr<snapshotter> snapshots;
  // Requests by op/result and latency (null with monitor.request_metrics off).
  std::unique_ptr<net::request_stats> request_stats;
  std::unique_ptr<net::request_collector> request_collector;
  std::shared_ptr<monitor::status_board> board = std::make_shared<monitor::status_board>();
  std::shared_ptr<crash_targets> crash = std::make_shared<crash_targets>();
  slot_ptr<caf::actor> monitor_actor = make_slot<caf::actor>();
  std::unique_ptr<monitor::http_endpoint> endpoint;
  int64_t started_ms = 0;
  std::atomic<uint16_t> client_port{0};  // as bound (the config may say 0)
  std::unique_ptr<net::front_door> front_door;
  bool running = false;

  void start_metrics() {
    audit_metrics->mailbox_depth = supervision_metrics->mailbox_of("audit_writer", "0");
    if (!settings.monitor.request_metrics)
      return;
    request_stats = std::make_unique<net::request_stats>();
    request_collector = std::make_unique<net::request_collector>(*request_stats);
  }

  void open_audit_log() {
    audit_log_options opts{settings.audit_dir(), settings.audit.segment_bytes,
                           settings.audit.retain_segments, settings.audit.retain_days, true};
    audit_recovery report;
    log = audit_log::open(opts, report);
    if (!report.cut.empty())
      spdlog::warn("audit log: {}", report.cut);
    if (!report.corrupt.empty())
      spdlog::error("audit log: damaged record kept for `authctl audit verify`, continuing in a new "
                    "segment: {}", report.corrupt);
    spdlog::info("audit log {}: {} segments, next record {}", opts.dir, report.segments,
                 report.next_index);
  }

  // -- recovery: the log is the source of truth ---------------------------------

  // Before any actor runs or any client connects: sessions and lockouts as
  // the newest valid snapshot plus the log after it say. Sessions that
  // expired meanwhile, and those of users removed or disabled since, stay out.
  void recover(const std::shared_ptr<const config::users_table>& users) {
    auto started = std::chrono::steady_clock::now();
    replay_report report;
    auto projection = replay(settings.snapshot_dir(), settings.audit_dir(), 0, report);
    for (auto& d : report.damaged)
      spdlog::error("recovery: snapshot {} is damaged ({}); falling back to an older one or the log",
                    d.file, d.why);
    for (auto& p : report.log_problems)
      spdlog::error("recovery: skipped a damaged part of the audit log: {}", p);
    auto restored = restore_tables(projection, users, session_tables, limiter_tables, net::wall_ms());
    covered = report.snapshot_file.empty() ? 1 : report.snapshot_position;
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    session_metrics->active->Set(static_cast<double>(restored.sessions));
    snapshot_metrics->recovery_seconds->Set(took);
    snapshot_metrics->recovered_sessions->Set(static_cast<double>(restored.sessions));
    spdlog::info("recovered {} sessions and {} lockouts in {:.3f} s ({}, {} log records replayed)",
                 restored.sessions, restored.lockouts, took,
                 report.snapshot_file.empty() ? std::string("no snapshot")
                                              : "snapshot " + report.snapshot_file + " with " +
                                                    std::to_string(report.snapshot_sessions) + " sessions",
                 report.records_replayed);
  }

  void start_snapshotter() {
    if (settings.snapshots.enabled && settings.audit.enabled)
      snapshots = std::make_unique<snapshotter>(settings.snapshots, settings.snapshot_dir(),
                                                settings.audit_dir(), log, covered,
                                                snapshot_metrics.get());
  }

  void start_runtime() {
    caf_config = std::make_unique<caf::actor_system_config>();
    caf_config->set("scheduler.max-threads", size_t{settings.actors.scheduler_threads});
    if (settings.actors.scheduler_policy == "sharing")
      caf_config->set("scheduler.policy", caf::atom("sharing"));
    else
      caf_config->set("scheduler.policy", caf::atom("stealing"));
    caf_config->set("logger.file-verbosity", caf::atom("quiet"));
    caf_config->set("logger.console-verbosity", caf::atom("quiet"));
    if (settings.cluster.enabled)
      caf_config->load<caf::io::middleman>();
    system = std::make_unique<caf::actor_system>(*caf_config);
  }

  void start_actors(std::shared_ptr<const config::users_table> users) {
    events = std::make_shared<event_stream>(settings.node.name, writer);
    limiter_settings lim{policies_of(settings.limiter),
                         std::max<size_t>(1, settings.limiter.max_keys / settings.limiter.shards),
                         settings.limiter.sweep_interval_ms, 10000, limiter_metrics.get()};
    for (uint32_t i = 0; i < settings.limiter.shards; ++i) {
      limiters.push_back(make_slot<limiter_shard>());
      limiter_tables.push_back(std::make_shared<limiter_table>(lim.policies, lim.max_keys));
    }
    limits = std::make_shared<login_limits>(limiters);
    events->set_listener([limits = limits](const std::vector<net::auth_event>& e) { limits->learn(e); });
    // Each session shard holds an equal share of the node's session budget.
    for (uint32_t i = 0; i < settings.actors.session_shards; ++i) {
      shards.push_back(make_slot<session_shard>());
      session_tables.push_back(std::make_shared<session_table>(settings.sessions));
    }
    recover(users);
    pool = std::make_unique<password_pool>(settings.users.password_threads,
                                           settings.users.max_pending_logins);
    router = std::make_unique<session_router>(
        shards, keys, *pool, users,
        config::argon2_params{settings.users.argon2_memory_kib, settings.users.argon2_iterations},
        events, limits, audit, limiter_metrics.get(), settings.testing.fault_injection,
        settings.testing.populate);
    router->set_status_board(board);
    register_crash_targets();
    root = spawn_supervisor(*system, root_spec(lim));
    root_watcher = system->spawn(watch_root, root, &on_failure, &stopping);
    await_tree();
  }

  // Spawning is asynchronous: the supervisors start their children when first
  // scheduled. Nothing may be sent (and no client accepted) before every slot
  // holds its actor. Bounded: a tree that does not come up fails the start.
  void await_tree() {
    auto ready = [this] {
      if (!writer->get() || !user_directory->get())
        return false;
      for (auto& l : limiters)
        if (!l->get())
          return false;
      for (auto& s : shards)
        if (!s->get())
          return false;
      return static_cast<bool>(monitor_actor->get());
    };
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!ready()) {
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("the actor tree did not start within 10 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // -- the supervision tree, as data --------------------------------------------

  supervisor_spec root_spec(const limiter_settings& lim) {
    supervisor_spec root{"root", supervision_strategy::rest_for_one,
                         settings.supervision.root_max_restarts,
                         std::chrono::milliseconds(settings.supervision.root_period_ms), {},
                         root_restart_counter()};
    root.children.push_back({"audit", [this](caf::actor_system& sys) {
                               return spawn_supervisor(sys, audit_spec());
                             }});
    root.children.push_back({"limiter", [this, lim](caf::actor_system& sys) {
                               auto s = spawn_supervisor(sys, limiter_spec(lim));
                               limiter_supervisor->set(s);
                               return s;
                             }});
    root.children.push_back({"sessions", [this](caf::actor_system& sys) {
                               auto s = spawn_supervisor(sys, session_spec());
                               session_supervisor->set(s);
                               return s;
                             }});
    root.children.push_back({"user_directory", [this](caf::actor_system& sys) {
                               auto d = spawn_user_directory(
                                   sys, settings.users_file(),
                                   std::chrono::milliseconds(settings.users.reload_interval_ms),
                                   [this](std::shared_ptr<const config::users_table> fresh) {
                                     publish_users(std::move(fresh));
                                   });
                               user_directory->set(d);
                               return d;
                             }});
    root.children.push_back({"key_directory", [this](caf::actor_system& sys) {
                               return spawn_key_directory(
                                   sys, settings.key_file(),
                                   std::chrono::milliseconds(settings.tokens.reload_interval_ms),
                                   keys_in_force(), [this](auto now, auto before) {
                                     publish_keys(std::move(now), *before);
                                   });
                             }});
    root.children.push_back({"monitor", [this](caf::actor_system& sys) {
                               auto m = monitor::spawn_monitor(sys, monitor_sources());
                               monitor_actor->set(m);
                               return m;
                             }});
    return root;
  }

  supervisor_spec audit_spec() {
    supervisor_spec s{"audit", supervision_strategy::one_for_one, settings.supervision.max_restarts,
                      std::chrono::milliseconds(settings.supervision.period_ms), {},
                      counter_for("audit_writer")};
    s.children.push_back({"audit_writer", [this](caf::actor_system& sys) {
                            auto w = spawn_audit_writer(sys, log, audit, settings.audit.enabled,
                                                        audit_metrics.get());
                            writer->set(w);
                            return caf::actor_cast<caf::actor>(w);
                          }});
    return s;
  }

  supervisor_spec limiter_spec(const limiter_settings& lim) {
    supervisor_spec s{"limiter", supervision_strategy::one_for_one,
                      settings.supervision.max_restarts,
                      std::chrono::milliseconds(settings.supervision.period_ms), {},
                      counter_for("limiter_shard")};
    for (size_t i = 0; i < limiters.size(); ++i)
      s.children.push_back({"limiter_shard_" + std::to_string(i), [this, lim, i](caf::actor_system& sys) {
                              auto mine = lim;
                              mine.mailbox_depth =
                                  supervision_metrics->mailbox_of("limiter_shard", std::to_string(i));
                              auto l = spawn_limiter_shard(sys, mine, limiter_tables[i], events);
                              limiters[i]->set(l);
                              return caf::actor_cast<caf::actor>(l);
                            }});
    return s;
  }

  supervisor_spec session_spec() {
    supervisor_spec s{"sessions", supervision_strategy::one_for_one,
                      settings.supervision.max_restarts,
                      std::chrono::milliseconds(settings.supervision.period_ms), {},
                      counter_for("session_shard")};
    size_t n = shards.size();
    size_t capacity = (size_t{settings.sessions.max_sessions} + n - 1) / n;
    for (size_t i = 0; i < n; ++i)
      s.children.push_back({"session_shard_" + std::to_string(i),
                            [this, capacity, i](caf::actor_system& sys) {
                              // A restarted shard sees the users as they are now.
                              auto sh = spawn_session_shard(
                                  sys, {settings.sessions, session_tables[i], capacity, events,
                                        audit, router->users(), session_metrics.get(),
                                        supervision_metrics->mailbox_of("session_shard",
                                                                        std::to_string(i)),
                                        crash});
                              shards[i]->set(sh);
                              return caf::actor_cast<caf::actor>(sh);
                            }});
    return s;
  }

  // What debug_crash can reach besides a session shard (which crashes itself).
  void register_crash_targets() {
    crash->add("limiter_shard", [this] { caf::anon_send(limiters.front()->get(), crash_atom_v); });
    crash->add("audit_writer", [this] { caf::anon_send(writer->get(), crash_atom_v); });
    crash->add("monitor", [this] { caf::anon_send(monitor_actor->get(), crash_atom_v); });
    crash->add("front_door_listener", [this] {
      if (front_door)
        front_door->crash_listener();
    });
  }

  monitor::monitor_sources monitor_sources() {
    monitor::monitor_sources src;
    src.node = settings.node.name;
    src.address = [this] { return settings.server.host + ":" + std::to_string(client_port.load()); };
    src.started_ms = started_ms;
    src.interval = std::chrono::milliseconds(settings.monitor.summary_interval_ms);
    src.requests = request_stats.get();
    src.read_gauges = [this](net::metrics_summary_reply& s) { read_gauges(s); };
    src.not_ready = [this] {
      std::vector<std::string> reasons;
      if (!audit->writable())
        reasons.push_back("audit: " + audit->reason());
      if (auto why = cluster_not_ready(); !why.empty())
        reasons.push_back("cluster: " + why);
      return reasons;
    };
    src.board = board;
    return src;
  }

  // The components' gauges, for the monitor's summary.
  void read_gauges(net::metrics_summary_reply& s) const {
    s.sessions_active = static_cast<uint64_t>(session_metrics->active->Value());
    s.connections_open = static_cast<uint64_t>(front_door_metrics->connections_open->Value());
    s.audit_writable = audit_metrics->writable->Value() > 0;
    s.audit_queue_depth = static_cast<uint64_t>(audit_metrics->queue_depth->Value());
    for (auto* c : limiter_metrics->rejected)
      s.limiter_rejections += static_cast<uint64_t>(c->Value());
    s.lockouts = static_cast<uint64_t>(limiter_metrics->lockouts->Value());
    s.actors = supervision_metrics->by_kind();
  }

  // The root's children are subtrees (counted as "supervisor") and single
  // actors (the monitor, counted as itself).
  std::function<void(const std::string&)> root_restart_counter() {
    auto* subtree = supervision_metrics->restarts_of("supervisor");
    auto* monitor = supervision_metrics->restarts_of("monitor");
    return [subtree, monitor](const std::string& child) {
      (child == "monitor" ? monitor : subtree)->Increment();
    };
  }

  std::function<void(const std::string&)> counter_for(const std::string& kind) {
    auto* counter = supervision_metrics->restarts_of(kind);
    return [counter](const std::string&) { counter->Increment(); };
  }

  // The ring the front door verifies with (a restarted key directory
  // continues from it).
  std::shared_ptr<const net::keyring> keys_in_force() {
    std::lock_guard<std::mutex> guard(keys_mutex);
    return keys;
  }

  // Rotation and retirement are events like any other.
  void publish_keys(std::shared_ptr<const net::keyring> now, const net::keyring& before) {
    {
      std::lock_guard<std::mutex> guard(keys_mutex);
      keys = now;
    }
    router->set_keys(now);
    if (front_door)
      front_door->set_keys(now);
    std::vector<net::auth_event> changes;
    if (now->primary_id() != before.primary_id()) {
      auto e = events->make(net::event_kind::key_rotated);
      e.reason = "primary=" + std::to_string(now->primary_id());
      changes.push_back(std::move(e));
    }
    for (auto& k : before.keys()) {
      bool kept = false;
      for (auto& n : now->keys())
        kept = kept || n.id == k.id;
      if (!kept) {
        auto e = events->make(net::event_kind::key_retired);
        e.reason = "key=" + std::to_string(k.id);
        changes.push_back(std::move(e));
      }
    }
    spdlog::info("token keys reloaded: primary {}, {} keys in force", now->primary_id(),
                 now->keys().size());
    events->publish(std::move(changes));
  }

  void publish_users(std::shared_ptr<const config::users_table> fresh) {
    events->publish(user_changes(*events, *router->users(), *fresh));
    router->set_users(fresh);
    for (auto& s : shards)
      caf::anon_send(s->get(), users_update{fresh});
  }

  // The root supervisor giving up is the node failing: tell main().
  static caf::behavior watch_root(caf::event_based_actor* self, caf::actor root,
                                  std::function<void(const std::string&)>* on_failure,
                                  std::atomic<bool>* stopping) {
    self->monitor(root);
    self->set_down_handler([self, on_failure, stopping](caf::down_msg& msg) {
      if (!stopping->load() && *on_failure)
        (*on_failure)(caf::to_string(msg.reason));
      self->quit();
    });
    return {[](caf::unit_t) {}};
  }

  uint16_t start_monitor() {
    if (!settings.monitor.enabled)
      return 0;
    endpoint = std::make_unique<monitor::http_endpoint>(
        settings.monitor.host, settings.monitor.port,
        [this](const std::string& path) { return serve(path); });
    return endpoint->start();
  }

  // -- the cluster ---------------------------------------------------------------

  // Joins through the seeds; from here on the front door routes by owner
  // and writes wait for their replicas. The node is unsupervised: it holds no
  // state worth restarting for, and its death fails the node (exit 3) rather
  // than leaving a member that silently stopped replicating.
  void start_cluster() {
    if (!settings.cluster.enabled) {
      cluster_metrics->members[1]->Set(1);  // "up": itself
      return;
    }
    auto& c = settings.cluster;
    membership = std::make_unique<cluster_backend>(*router, shards, limiters, settings.node.name,
                                                   c.replicas, cluster_metrics->self_lost_majority);
    cluster_deps deps;
    deps.cfg = c;
    deps.metrics = cluster_metrics.get();
    deps.secret = settings.cluster_secret();
    deps.self.name = settings.node.name;
    deps.self.address = c.host + ":" + std::to_string(c.port);
    deps.self.client = settings.server.host + ":" + std::to_string(settings.server.port);
    deps.self.incarnation = static_cast<uint64_t>(started_ms);
    deps.self.state = net::member_state::joining;
    deps.host = membership->host([this] { return member_load(); });
    cluster_node = spawn_cluster_node(*system, std::move(deps));
    membership->attach(cluster_node);
    membership_view = membership.get();
    events->set_replication(membership.get());
    limits->set_link(membership.get());
    auto published = system->middleman().publish(cluster_node, c.port, c.host.c_str(), true);
    if (!published)
      throw std::runtime_error("cannot open the cluster port " + c.host + ":" +
                               std::to_string(c.port) + ": " + system->render(published.error()));
    cluster_watcher = system->spawn(watch_root, cluster_node, &on_failure, &stopping);
    spdlog::info("cluster: {} listening on {}:{}, seeds: {}", settings.node.name, c.host, c.port,
                 c.seeds.size());
  }

  net::member_load member_load() {
    net::member_load load;
    auto s = board->summary();
    if (!s)
      return load;
    load.ready = s->ready;
    load.not_ready = s->not_ready;
    load.sessions = s->sessions_active;
    double errors = 0;
    for (auto& o : s->ops) {
      load.requests_per_s += o.rate_per_s;
      load.p99_ms = std::max(load.p99_ms, o.p99_ms);
      errors += o.rate_per_s * o.error_ratio;
    }
    load.error_share = load.requests_per_s > 0 ? errors / load.requests_per_s : 0;
    for (auto& a : s->actors)
      load.restarts += a.restarts;
    return load;
  }

  // SIGTERM: stop owning, hand every range over, tell the members; bounded.
  void leave_cluster() {
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

  // -- the monitor's routes (on the endpoint's thread) -------------------------

  static monitor::http_response json(int status, const nlohmann::json& body) {
    return {status, "application/json", body.dump() + "\n"};
  }

  monitor::http_response serve(const std::string& path) {
    if (path == "/metrics") {
      std::vector<const prometheus::Collectable*> sources{registry.get()};
      if (request_collector)
        sources.push_back(request_collector.get());
      return {200, "text/plain; version=0.0.4; charset=utf-8", monitor::render_text(sources)};
    }
    if (path == "/health/live")
      return json(200, {{"status", "live"}, {"node", settings.node.name}});
    if (path == "/health/ready")
      return ready();
    if (path == "/cluster")
      return cluster();
    return json(404, {{"error", "not found"}, {"paths", {"/metrics", "/health/live", "/health/ready",
                                                          "/cluster"}}});
  }

  // Ready when every write can be recorded; otherwise 503 with the reasons.
  // Why this member cannot serve everything now ("" when it can).
  std::string cluster_not_ready() const {
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

  monitor::http_response ready() {
    nlohmann::json reasons = nlohmann::json::array();
    if (!audit->writable())
      reasons.push_back({{"component", "audit"}, {"reason", audit->reason()}});
    if (auto why = cluster_not_ready(); !why.empty())
      reasons.push_back({{"component", "cluster"}, {"reason", why}});
    bool ok = reasons.empty();
    return json(ok ? 200 : 503, {{"status", ok ? "ready" : "not_ready"},
                                 {"node", settings.node.name},
                                 {"reasons", reasons}});
  }

  // Every member as this node sees it; a node alone is a one-member cluster
  // of itself, from the monitor's latest summary. One shape either way.
  monitor::http_response cluster() {
    auto now = net::wall_ms();
    if (membership)
      if (auto view = membership->view())
        return {200, "application/json", monitor::cluster_json(status_of(*view), now)};
    auto summary = board->summary();
    if (!summary)
      return json(503, {{"error", "the monitor has not reported yet"}});
    auto src = monitor_sources();
    auto alone = monitor::lone_node_status(src.node, src.address(), src.started_ms, *summary, now);
    return {200, "application/json", monitor::cluster_json(alone, now)};
  }

  // Stops whatever has been started, in reverse order; safe after a start
  // that failed half-way (then no actor may be left running, or the actor
  // system's destructor would wait for it forever).
  void teardown() {
    if (snapshots)
      snapshots->stop();       // reads files only; nothing depends on it
    if (front_door)
      front_door->stop();      // no new requests
    if (pool)
      pool->stop();            // finish password checks already queued
    stopping = true;           // the root going down is no failure now
    if (system) {
      // Nothing publishes any more (front door and pool are stopped): this is
      // the last event. The root then stops its subtrees last-started first,
      // each awaited, so the audit writer commits everything and goes last.
      if (events && writer->get())
        events->publish({events->make(net::event_kind::node_stopping)});
      if (root) {
        caf::scoped_actor self{*system};
        self->send_exit(root, caf::exit_reason::user_shutdown);
        self->wait_for(root);
      }
      if (cluster_node) {
        caf::scoped_actor self{*system};
        self->send_exit(cluster_node, caf::exit_reason::user_shutdown);
        self->wait_for(cluster_node);
      }
      system->await_all_actors_done();
    }
    if (endpoint)
      endpoint->stop();
    endpoint.reset();
    front_door.reset();        // only now: actors may have delivered until they quit
    if (events)
      events->set_replication(nullptr);
    if (limits)
      limits->set_link(nullptr);
    membership_view = nullptr;
    membership.reset();
    router.reset();
    // Every strong handle must go before the actor system: its destructor
    // waits for detached actors (the writer, the user directory) to be freed.
    for (auto& sl : shards)
      sl->clear();
    for (auto& sl : limiters)
      sl->clear();
    writer->clear();
    user_directory->clear();
    monitor_actor->clear();
    limiter_supervisor->clear();
    session_supervisor->clear();
    shards.clear();
    limiters.clear();
    events.reset();
    limits.reset();
    root = nullptr;
    root_watcher = nullptr;
    cluster_node = nullptr;
    cluster_watcher = nullptr;
    system.reset();
  }
};

node::node(config::node_settings settings) : impl_(std::make_unique<impl>()) {
  impl_->settings = std::move(settings);
}

node::~node() { stop(); }

node_ports node::start() {
  try {
    return start_all();
  } catch (...) {
    impl_->teardown();
    throw;
  }
}

node_ports node::start_all() {
  auto& d = *impl_;
  config::init_sodium();
  // Keys whose grace period ended while the node was down are not in force.
  d.keys = std::make_shared<const net::keyring>(
      net::load_or_create_key_file(d.settings.key_file())
          ->in_force(net::wall_ms()));
  auto users = std::make_shared<const config::users_table>(
      config::load_users(d.settings.users_file()));
  spdlog::info("loaded {} token keys (primary {}) and {} users", d.keys->keys().size(),
               d.keys->primary_id(), users->by_name.size());
  d.start_metrics();
  d.open_audit_log();
  d.start_runtime();
  d.started_ms = net::wall_ms();
  d.start_actors(users);
  d.events->publish({d.events->make(net::event_kind::node_started)});
  d.start_snapshotter();
  d.start_cluster();
  node_ports ports;
  ports.monitor = d.start_monitor();
  net::request_backend& backend = d.membership ? static_cast<net::request_backend&>(*d.membership)
                                            : static_cast<net::request_backend&>(*d.router);
  d.front_door = std::make_unique<net::front_door>(d.settings.server, d.settings.node.name, d.keys,
                                                   backend, d.front_door_metrics.get(),
                                                   d.request_stats.get());
  d.front_door->supervise({d.settings.supervision.max_restarts,
                           std::chrono::milliseconds(d.settings.supervision.period_ms),
                           [counter = d.supervision_metrics->restarts_of("front_door_listener")] {
                             counter->Increment();
                           },
                           [&d](const std::string& why) {
                             if (!d.stopping.load() && d.on_failure)
                               d.on_failure(why);
                           }});
  ports.client = d.front_door->start();
  d.client_port = ports.client;
  d.running = true;
  return ports;
}

void node::reload(const config::node_settings& fresh) {
  auto& d = *impl_;
  if (!d.running)
    return;
  std::vector<std::string> applied, need_restart;
  if (config::differs(d.settings.limiter, fresh.limiter)) {
    auto policies = policies_of(fresh.limiter);
    for (auto& l : d.limiters)
      caf::anon_send(l->get(), policies);
    d.settings.limiter = fresh.limiter;
    applied.push_back("limiter");
  }
  if (d.settings.log.level != fresh.log.level) {
    spdlog::set_level(spdlog::level::from_str(fresh.log.level));
    d.settings.log = fresh.log;
    applied.push_back("log");
  }
  for (auto& section : config::changed_sections(d.settings, fresh))
    need_restart.push_back(section);
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (auto& s : v)
      out += (out.empty() ? "" : ",") + s;
    return out.empty() ? std::string("none") : out;
  };
  spdlog::info("config reloaded: applied {}; changed but needing a restart: {}", join(applied),
               join(need_restart));
  auto e = d.events->make(net::event_kind::config_reloaded);
  e.reason = "applied=" + join(applied) + " restart=" + join(need_restart);
  d.events->publish({std::move(e)});
}

void node::on_failure(std::function<void(const std::string& reason)> handler) {
  impl_->on_failure = std::move(handler);
}

void node::stop() {
  if (!impl_->running)
    return;
  impl_->running = false;
  // Still serving while it leaves: requests follow the ranges to their new owners.
  impl_->leave_cluster();
  impl_->teardown();
}

}  // namespace castellan::actors
