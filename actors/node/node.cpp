// One authd node, started step by step in dependency order:
//
//   keys, users              (files: loaded before anything can answer)
//   audit log                (opened; a torn tail from a crash is cut)
//   actor system             (CAF runtime: scheduler_threads workers)
//   services                 (event stream, limiter front, router; recovery:
//                             newest valid snapshot + log tail -> tables)
//   supervision tree         (node_tree.cpp; the audit writer first)
//   password pool            (dedicated argon2 threads, never CAF's)
//   snapshotter              (own thread: the log's projection, every N records / T s)
//   cluster node             ([cluster] on: node_cluster.cpp)
//   monitor endpoint         (HTTP: /metrics, /health/live, /health/ready, /cluster)
//   front door               (Asio listener: opened last, closed first)
//
// Each step pushes its stop on the stop stack as soon as it has started, so
// stop() runs exactly the started steps backwards: nothing is accepted that
// cannot be recorded, and the audit writer commits the last events before it
// goes. A start that fails half-way stops what it had started.
#include "actors/node/node.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include "actors/limiter/limiter_table.hpp"
#include "actors/node/node_impl.hpp"
#include "actors/recovery/session_projection.hpp"
#include "actors/recovery/table_restore.hpp"
#include "actors/sessions/session_table.hpp"
#include "config/logging.hpp"
#include "config/password_hash.hpp"
#include "net/key_file.hpp"
#include "net/wall_clock.hpp"

namespace castellan::actors {

node::impl::impl(config::node_settings s)
    : settings(std::move(s)), metrics(settings.monitor.request_metrics) {}

// -- the start steps -------------------------------------------------------------

void node::impl::load_files() {
  config::init_sodium();
  // Keys whose grace period ended while the node was down are not in force.
  keys = std::make_shared<const net::keyring>(
      net::load_or_create_key_file(settings.key_file())->in_force(net::wall_ms()));
}

void node::impl::open_audit_log() {
  audit_log_options opts{settings.audit_dir(), settings.audit.segment_bytes,
                         settings.audit.retain_segments, settings.audit.retain_days, true, nullptr};
  if (settings.testing.fault_injection) {
    opts.faults = faults = std::make_shared<storage_faults>();
    faults->report = [](const std::string& what) { spdlog::warn("{}", what); };
  }
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

// The actor system's stop runs last of all: it releases everything that
// holds an actor handle, then destroys the system.
void node::impl::start_runtime() {
  caf_config = std::make_unique<caf::actor_system_config>();
  caf_config->set("scheduler.max-threads", size_t{settings.actors.scheduler_threads});
  if (settings.actors.scheduler_policy == "sharing")
    caf_config->set("scheduler.policy", caf::atom("sharing"));
  else
    caf_config->set("scheduler.policy", caf::atom("stealing"));
  caf_config->set("logger.file-verbosity", caf::atom("quiet"));
  caf_config->set("logger.console-verbosity", caf::atom("quiet"));
  if (settings.cluster.enabled) {
    caf_config->load<caf::io::middleman>();
    configure_cluster_tls();
  }
  system = std::make_unique<caf::actor_system>(*caf_config);
  started_ms = net::wall_ms();
  stops.push("actor system", [this] { release_everything(); });
}

// The event stream, the limiter's front, the tables (filled by recovery),
// the password pool (not yet running) and the router: plain objects that
// the tree's actors and the front door share.
void node::impl::start_services() {
  auto users = user_ids.number(config::load_users(settings.users_file()));
  spdlog::info("loaded {} token keys (primary {}) and {} users", keys->keys().size(),
               keys->primary_id(), users->by_name.size());
  events = std::make_shared<event_stream>(settings.node.name, actors.writer);
  auto lim = limiter_settings_now();
  for (uint32_t i = 0; i < settings.limiter.shards; ++i) {
    actors.limiters.push_back(make_slot<limiter_shard>());
    actors.limiter_tables.push_back(std::make_shared<limiter_table>(lim.policies, lim.max_keys));
  }
  limits = std::make_shared<login_limits>(actors.limiters);
  events->set_listener([limits = limits](const auto& e) { limits->learn(e); });
  for (uint32_t i = 0; i < settings.actors.session_shards; ++i) {
    actors.shards.push_back(make_slot<session_shard>());
    actors.session_tables.push_back(std::make_shared<session_table>(settings.sessions, readers));
  }
  recover(users);
  pool = std::make_unique<password_pool>(
      password_pool::settings{settings.users.password_threads, settings.users.max_pending_logins,
                              std::chrono::milliseconds(settings.users.login_max_wait_ms)},
      metrics.logins.get());
  router = std::make_unique<session_router>(
      actors.shards, keys, *pool, users,
      config::argon2_params{settings.users.argon2_memory_kib, settings.users.argon2_iterations},
      events, limits, audit, metrics.limiter.get(), settings.testing.fault_injection,
      settings.testing.populate);
  router->set_status_board(board);
  if (!settings.cluster.enabled)  // a member's copy does not settle a validate (session_reader.hpp)
    router->answer_validates_from(actors.session_tables, readers);
  register_crash_targets();
}

// Before any actor runs or any client connects: sessions and lockouts as
// the newest valid snapshot plus the log after it say. Sessions that
// expired meanwhile, and those of users removed or disabled since, stay out.
void node::impl::recover(const std::shared_ptr<const config::users_table>& users) {
  auto started = std::chrono::steady_clock::now();
  replay_report report;
  auto projection = replay(settings.snapshot_dir(), settings.audit_dir(), 0, report);
  for (auto& d : report.damaged)
    spdlog::error("recovery: snapshot {} is damaged ({}); falling back to an older one or the log",
                  d.file, d.why);
  for (auto& p : report.log_problems)
    spdlog::error("recovery: skipped a damaged part of the audit log: {}", p);
  auto restored = restore_tables(projection, users, actors.session_tables, actors.limiter_tables,
                                 net::wall_ms());
  covered = report.snapshot_file.empty() ? 1 : report.snapshot_position;
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics.sessions->active->track({actors.session_tables.begin(), actors.session_tables.end()});
  metrics.snapshots->recovery_seconds->Set(took);
  metrics.snapshots->recovered_sessions->Set(static_cast<double>(restored.sessions));
  spdlog::info("recovered {} sessions and {} lockouts in {:.3f} s ({}, {} log records replayed)",
               restored.sessions, restored.lockouts, took,
               report.snapshot_file.empty() ? std::string("no snapshot")
                                            : "snapshot " + report.snapshot_file + " with " +
                                                  std::to_string(report.snapshot_sessions) +
                                                  " sessions",
               report.records_replayed);
}

// The tree's stop is the node's last word: nothing publishes any more (the
// front door and the pool stopped before), so node_stopping is the last
// event; the root then stops its subtrees last-started first, each awaited,
// so the audit writer commits everything and goes last.
void node::impl::start_tree() {
  root = spawn_supervisor(*system, root_spec());
  root_watcher = watch_for_failure(*system, root, &on_failure, &stopping);
  stops.push("supervision tree", [this] {
    stopping = true;
    if (actors.writer->get())
      events->publish({events->make(net::event_kind::node_stopping)});
    caf::scoped_actor self{*system};
    self->send_exit(root, caf::exit_reason::user_shutdown);
    self->wait_for(root);
  });
  await_tree();
  events->publish({events->make(net::event_kind::node_started)});
}

// Stops after the front door and before the tree: password checks already
// queued finish and their outcomes are recorded.
void node::impl::start_pool() {
  pool->start();
  stops.push("password pool", [this] { pool->stop(); });
}

void node::impl::start_snapshotter() {
  if (!settings.snapshots.enabled || !settings.audit.enabled)
    return;
  snapshots = std::make_unique<snapshotter>(settings.snapshots, settings.snapshot_dir(),
                                            settings.audit_dir(), log, covered,
                                            metrics.snapshots.get());
  stops.push("snapshotter", [this] { snapshots->stop(); });
}

void node::impl::start_endpoint(node_ports& ports) {
  if (!settings.monitor.enabled)
    return;
  endpoint = std::make_unique<monitor::http_endpoint>(
      settings.monitor.host, settings.monitor.port,
      [this, sources = routes()](const std::string& path) {
        return monitor::serve_route(sources, path);
      });
  ports.monitor = endpoint->start();
  stops.push("monitor endpoint", [this] { endpoint->stop(); });
}

// Opened last, closed first. The object itself lives until every actor has
// quit (release_everything): actors may deliver replies to it until then.
void node::impl::start_front_door(node_ports& ports) {
  net::request_backend& backend = membership ? static_cast<net::request_backend&>(*membership)
                                             : static_cast<net::request_backend&>(*router);
  front_door = std::make_unique<net::front_door>(settings.server, settings.node.name, keys, backend,
                                                 metrics.front_door.get(), metrics.requests.get());
  front_door->supervise({settings.supervision.max_restarts,
                         std::chrono::milliseconds(settings.supervision.period_ms),
                         [counter = metrics.supervision->restarts_of("front_door_listener")] {
                           counter->Increment();
                         },
                         [this](const std::string& why) {
                           if (!stopping.load() && on_failure)
                             on_failure(why);
                         }});
  ports.client = front_door->start();
  client_port = ports.client;
  if (!settings.server.tls.enabled() && !config::is_loopback_address(settings.server.host))
    spdlog::warn("clients connect to {}:{} without TLS: passwords and tokens cross the network in "
                 "clear unless TLS is terminated in front of this node (set [server.tls], "
                 "docs/operations.md)", settings.server.host, ports.client);
  stops.push("front door", [this] { front_door->stop(); });
}

// The last stop: every actor has been told to quit; wait for them, then drop
// every strong handle before the actor system (its destructor waits for
// detached actors, the writer and the directories, to be freed).
void node::impl::release_everything() {
  stopping = true;
  system->await_all_actors_done();
  front_door.reset();
  endpoint.reset();
  if (events)
    events->set_replication(nullptr);
  if (limits)
    limits->set_link(nullptr);
  membership_view = nullptr;
  membership.reset();
  router.reset();
  actors.clear();
  events.reset();
  limits.reset();
  root = nullptr;
  root_watcher = nullptr;
  cluster_node = nullptr;
  cluster_watcher = nullptr;
  system.reset();
}

// -- what the directories publish ------------------------------------------------

// The ring the front door verifies with (a restarted key directory
// continues from it).
std::shared_ptr<const net::keyring> node::impl::keys_in_force() {
  std::lock_guard<std::mutex> guard(keys_mutex);
  return keys;
}

// Rotation and retirement are events like any other.
void node::impl::publish_keys(std::shared_ptr<const net::keyring> now, const net::keyring& before) {
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

// user_changed events for what differs, then the new snapshot to logins and shards.
void node::impl::publish_users(std::shared_ptr<const config::users_table> loaded) {
  auto fresh = user_ids.number(*loaded);
  std::vector<net::auth_event> changes;
  for (auto& [name, reason] : config::diff_users(*router->users(), *fresh)) {
    auto e = events->make(net::event_kind::user_changed);
    e.user = name;
    e.reason = reason;
    changes.push_back(std::move(e));
  }
  events->publish(std::move(changes));
  router->set_users(fresh);
  for (auto& s : actors.shards)
    caf::anon_send(s->get(), users_update{fresh});
}

// -- what operators read -----------------------------------------------------------

// Why this node cannot serve every request now (empty: ready).
std::vector<monitor::not_ready_reason> node::impl::not_ready() const {
  std::vector<monitor::not_ready_reason> reasons;
  if (!audit->writable())
    reasons.push_back({"audit", audit->reason()});
  if (auto why = cluster_not_ready(); !why.empty())
    reasons.push_back({"cluster", why});
  return reasons;
}

monitor::route_sources node::impl::routes() {
  monitor::route_sources src;
  src.node = settings.node.name;
  src.metrics = [this] {
    auto all = metrics.collectables();
    all.push_back(&process_metrics);
    return all;
  };
  src.not_ready = [this] { return not_ready(); };
  src.cluster_json = [this] { return cluster_json(); };
  return src;
}

// -- the node's public face --------------------------------------------------------

node::node(config::node_settings settings) : impl_(std::make_unique<impl>(std::move(settings))) {}

node::~node() { stop(); }

node_ports node::start() {
  try {
    return start_all();
  } catch (...) {
    impl_->stops.run();
    throw;
  }
}

node_ports node::start_all() {
  auto& d = *impl_;
  node_ports ports;
  d.load_files();
  d.open_audit_log();
  d.start_runtime();
  d.start_services();
  d.start_tree();
  d.start_pool();
  d.start_snapshotter();
  d.start_cluster();
  d.start_endpoint(ports);
  d.start_front_door(ports);
  d.running = true;
  return ports;
}

namespace {

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (auto& s : v)
    out += (out.empty() ? "" : ",") + s;
  return out.empty() ? std::string("none") : out;
}

}  // namespace

void node::reload(const config::node_settings& fresh) {
  auto& d = *impl_;
  if (!d.running)
    return;
  std::vector<std::string> applied, need_restart;
  // The files named in force are re-read; naming other files takes a restart.
  if (d.front_door && d.front_door->reload_tls())
    applied.push_back("server.tls files");
  if (d.reload_cluster_tls())
    applied.push_back("cluster.tls files");
  if (config::differs(d.settings.limiter, fresh.limiter)) {
    auto policies = policies_of(fresh.limiter);
    for (auto& l : d.actors.limiters)
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
  spdlog::info("config reloaded: applied {}; changed but needing a restart: {}", joined(applied),
               joined(need_restart));
  auto e = d.events->make(net::event_kind::config_reloaded);
  e.reason = "applied=" + joined(applied) + " restart=" + joined(need_restart);
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
  impl_->stops.run();
}

}  // namespace castellan::actors
