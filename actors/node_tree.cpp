// The whole of one authd node, assembled top to bottom in start order:
//
//   keys, users              (files: loaded before anything can answer)
//   audit log                (opened; a torn tail from a crash is cut)
//   actor system             (CAF runtime: scheduler_threads workers)
//   ├── audit writer         (detached: starts first, stops last)
//   ├── limiter shards × L   (GCRA buckets and lockouts, by key)
//   ├── session shards × N   (sessions, by session id)
//   └── user directory       (detached: reloads the users file)
//   event stream             (events -> audit writer, login outcomes -> limiter)
//   password pool            (dedicated argon2 threads, never CAF's)
//   session router           (front door -> limiter / pool / shards)
//   monitor endpoint         (HTTP: /metrics, /health/live, /health/ready, /cluster)
//   front door               (Asio listener: opened last, closed first)
//
// stop() runs the same list backwards, so nothing is accepted that cannot be
// recorded, and the audit writer commits the last events before it goes.
// Supervision (restarts) arrives with the supervisor tree.
#include "actors/node.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_actor.hpp>
#include <nlohmann/json.hpp>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "actors/audit_log.hpp"
#include "actors/caf_types.hpp"
#include "actors/session_router.hpp"
#include "actors/user_directory.hpp"
#include "config/password_hash.hpp"
#include "monitor/http_endpoint.hpp"
#include "monitor/metrics.hpp"
#include "net/front_door.hpp"
#include "net/key_file.hpp"

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
  std::shared_ptr<const net::keyring> keys;
  std::shared_ptr<audit_log> log;
  std::shared_ptr<audit_health> audit = std::make_shared<audit_health>();
  std::unique_ptr<caf::actor_system_config> caf_config;
  std::unique_ptr<caf::actor_system> system;
  audit_writer writer;
  std::shared_ptr<event_stream> events;
  std::vector<limiter_shard> limiters;
  std::vector<session_shard> shards;
  caf::actor user_directory;
  std::unique_ptr<password_pool> pool;
  std::unique_ptr<session_router> router;
  // Metrics first: every component gets its handles at construction.
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<monitor::front_door_metrics> front_door_metrics =
      monitor::make_front_door_metrics(*registry);
  std::unique_ptr<monitor::audit_metrics> audit_metrics = monitor::make_audit_metrics(*registry);
  std::unique_ptr<monitor::limiter_metrics> limiter_metrics =
      monitor::make_limiter_metrics(*registry);
  std::unique_ptr<monitor::session_metrics> session_metrics =
      monitor::make_session_metrics(*registry);
  std::unique_ptr<monitor::http_endpoint> endpoint;
  int64_t started_ms = 0;
  uint16_t client_port = 0;  // as bound (the config may say 0)
  std::unique_ptr<net::front_door> front_door;
  bool running = false;

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

  void start_runtime() {
    caf_config = std::make_unique<caf::actor_system_config>();
    caf_config->set("scheduler.max-threads", size_t{settings.actors.scheduler_threads});
    if (settings.actors.scheduler_policy == "sharing")
      caf_config->set("scheduler.policy", caf::atom("sharing"));
    else
      caf_config->set("scheduler.policy", caf::atom("stealing"));
    caf_config->set("logger.file-verbosity", caf::atom("quiet"));
    caf_config->set("logger.console-verbosity", caf::atom("quiet"));
    system = std::make_unique<caf::actor_system>(*caf_config);
  }

  void start_actors(std::shared_ptr<const config::users_table> users) {
    writer = spawn_audit_writer(*system, log, audit, settings.audit.enabled, audit_metrics.get());
    events = std::make_shared<event_stream>(settings.node.name, writer);
    limiter_settings lim{policies_of(settings.limiter),
                         std::max<size_t>(1, settings.limiter.max_keys / settings.limiter.shards),
                         settings.limiter.sweep_interval_ms, 10000, limiter_metrics.get()};
    for (uint32_t i = 0; i < settings.limiter.shards; ++i)
      limiters.push_back(spawn_limiter_shard(*system, lim, events));
    events->set_limiters(limiters);
    // Each session shard holds an equal share of the node's session budget.
    size_t n = settings.actors.session_shards;
    size_t capacity = (size_t{settings.sessions.max_sessions} + n - 1) / n;
    for (size_t i = 0; i < n; ++i)
      shards.push_back(spawn_session_shard(*system, settings.sessions, capacity, keys, events, audit,
                                           users, session_metrics.get()));
    pool = std::make_unique<password_pool>(settings.users.password_threads,
                                           settings.users.max_pending_logins);
    router = std::make_unique<session_router>(
        shards, *pool, users,
        config::argon2_params{settings.users.argon2_memory_kib, settings.users.argon2_iterations},
        events, audit, limiter_metrics.get());
    user_directory = spawn_user_directory(
        *system, settings.users_file(), std::chrono::milliseconds(settings.users.reload_interval_ms),
        [this](std::shared_ptr<const config::users_table> fresh) {
          events->publish(user_changes(*events, *router->users(), *fresh));
          router->set_users(fresh);
          for (auto& s : shards)
            caf::anon_send(s, users_update{fresh});
        });
  }

  uint16_t start_monitor() {
    if (!settings.monitor.enabled)
      return 0;
    endpoint = std::make_unique<monitor::http_endpoint>(
        settings.monitor.host, settings.monitor.port,
        [this](const std::string& path) { return serve(path); });
    return endpoint->start();
  }

  // -- the monitor's routes (on the endpoint's thread) -------------------------

  static monitor::http_response json(int status, const nlohmann::json& body) {
    return {status, "application/json", body.dump() + "\n"};
  }

  monitor::http_response serve(const std::string& path) {
    if (path == "/metrics")
      return {200, "text/plain; version=0.0.4; charset=utf-8", monitor::render_text(*registry)};
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
  monitor::http_response ready() {
    nlohmann::json reasons = nlohmann::json::array();
    if (!audit->writable())
      reasons.push_back({{"component", "audit"}, {"reason", audit->reason()}});
    bool ok = reasons.empty();
    return json(ok ? 200 : 503, {{"status", ok ? "ready" : "not_ready"},
                                 {"node", settings.node.name},
                                 {"reasons", reasons}});
  }

  // Every member as this node sees it: on one node, itself.
  monitor::http_response cluster() {
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    nlohmann::json self{
        {"name", settings.node.name},
        {"address", settings.server.host + ":" + std::to_string(client_port)},
        {"state", audit->writable() ? "up" : "degraded"},
        {"started_ms", started_ms},
        {"last_heard_ms", now},
        {"load", {{"connections_open", front_door_metrics->connections_open->Value()},
                  {"sessions_active", session_metrics->active->Value()}}}};
    return json(200, {{"node", settings.node.name}, {"members", {self}}});
  }

  // Stops every actor but the audit writer and waits until they are gone, so
  // that everything they publish is in the writer's mailbox before it stops.
  void stop_workers() {
    std::vector<caf::actor> workers;
    if (user_directory)
      workers.push_back(user_directory);
    for (auto& s : shards)
      workers.push_back(caf::actor_cast<caf::actor>(s));
    for (auto& l : limiters)
      workers.push_back(caf::actor_cast<caf::actor>(l));
    caf::scoped_actor self{*system};
    for (auto& w : workers)
      self->send_exit(w, caf::exit_reason::user_shutdown);
    self->wait_for(workers);
  }

  // Stops whatever has been started, in reverse order; safe after a start
  // that failed half-way (then no actor may be left running, or the actor
  // system's destructor would wait for it forever).
  void teardown() {
    if (front_door)
      front_door->stop();      // no new requests
    if (pool)
      pool->stop();            // finish password checks already queued
    if (system) {
      stop_workers();          // shards, limiter, user directory
      if (writer) {
        if (events)
          events->publish({events->make(net::event_kind::node_stopping)});
        caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);  // commits what is left
      }
      system->await_all_actors_done();
    }
    if (endpoint)
      endpoint->stop();
    endpoint.reset();
    front_door.reset();        // only now: actors may have delivered until they quit
    router.reset();
    shards.clear();
    limiters.clear();
    events.reset();
    user_directory = nullptr;
    writer = nullptr;
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
  d.keys = net::load_or_create_key_file(d.settings.key_file());
  auto users = std::make_shared<const config::users_table>(
      config::load_users(d.settings.users_file()));
  spdlog::info("loaded {} token keys (primary {}) and {} users", d.keys->keys().size(),
               d.keys->primary_id(), users->by_name.size());
  d.open_audit_log();
  d.start_runtime();
  d.start_actors(users);
  d.events->publish({d.events->make(net::event_kind::node_started)});
  d.started_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  node_ports ports;
  ports.monitor = d.start_monitor();
  d.front_door = std::make_unique<net::front_door>(d.settings.server, d.settings.node.name, d.keys,
                                                   *d.router, d.front_door_metrics.get());
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
      caf::anon_send(l, policies);
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

void node::stop() {
  if (!impl_->running)
    return;
  impl_->running = false;
  impl_->teardown();
}

}  // namespace castellan::actors
