// The whole of one authd node, assembled top to bottom in start order:
//
//   keys, users            (files: loaded before anything can answer)
//   actor system           (CAF runtime: scheduler_threads workers)
//   ├── session shards     (N actors, sessions split by session id)
//   └── user directory     (detached actor: reloads the users file)
//   password pool          (dedicated argon2 threads, never CAF's)
//   session router         (front door -> shards / pool)
//   monitor endpoint       (Prometheus /metrics)
//   front door             (Asio listener: opened last, closed first)
//
// stop() runs the same list backwards, so nothing is accepted that cannot be
// served. Supervision (restarts) arrives with the supervisor tree.
#include "actors/node.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_actor.hpp>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "actors/caf_types.hpp"
#include "actors/session_router.hpp"
#include "actors/user_directory.hpp"
#include "config/password_hash.hpp"
#include "monitor/metrics.hpp"
#include "net/front_door.hpp"
#include "net/key_file.hpp"

namespace castellan::actors {

struct node::impl {
  config::node_settings settings;
  std::shared_ptr<const net::keyring> keys;
  std::unique_ptr<caf::actor_system_config> caf_config;
  std::unique_ptr<caf::actor_system> system;
  std::vector<session_shard> shards;
  caf::actor user_directory;
  std::unique_ptr<password_pool> pool;
  std::unique_ptr<session_router> router;
  std::shared_ptr<prometheus::Registry> registry;
  std::unique_ptr<monitor::front_door_metrics> front_door_metrics;
  std::unique_ptr<prometheus::Exposer> exposer;
  std::unique_ptr<net::front_door> front_door;
  bool running = false;

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
    // Each shard holds an equal share of the node's session budget.
    size_t n = settings.actors.session_shards;
    size_t capacity = (size_t{settings.sessions.max_sessions} + n - 1) / n;
    for (size_t i = 0; i < n; ++i)
      shards.push_back(spawn_session_shard(*system, settings.sessions, capacity, keys));
    pool = std::make_unique<password_pool>(settings.users.password_threads,
                                           settings.users.max_pending_logins);
    auto dummy = config::hash_password(config::random_password(),
                                       {settings.users.argon2_memory_kib,
                                        settings.users.argon2_iterations});
    router = std::make_unique<session_router>(shards, *pool, users, std::move(dummy));
    user_directory = spawn_user_directory(
        *system, settings.users_file(), std::chrono::milliseconds(settings.users.reload_interval_ms),
        [this](std::shared_ptr<const config::users_table> fresh) {
          router->set_users(fresh);
          for (auto& s : shards)
            caf::anon_send(s, users_update{fresh});
        });
  }

  uint16_t start_monitor() {
    registry = std::make_shared<prometheus::Registry>();
    front_door_metrics = monitor::make_front_door_metrics(*registry);
    if (!settings.monitor.enabled)
      return 0;
    exposer = std::make_unique<prometheus::Exposer>(settings.monitor.host + ":" +
                                                    std::to_string(settings.monitor.port));
    exposer->RegisterCollectable(registry);
    auto ports = exposer->GetListeningPorts();
    return ports.empty() ? 0 : static_cast<uint16_t>(ports.front());
  }
};

node::node(config::node_settings settings) : impl_(std::make_unique<impl>()) {
  impl_->settings = std::move(settings);
}

node::~node() { stop(); }

node_ports node::start() {
  auto& d = *impl_;
  config::init_sodium();
  d.keys = net::load_or_create_key_file(d.settings.key_file());
  auto users = std::make_shared<const config::users_table>(
      config::load_users(d.settings.users_file()));
  spdlog::info("loaded {} token keys (primary {}) and {} users", d.keys->keys().size(),
               d.keys->primary_id(), users->by_name.size());
  d.start_runtime();
  d.start_actors(users);
  node_ports ports;
  ports.monitor = d.start_monitor();
  d.front_door = std::make_unique<net::front_door>(d.settings.server, d.settings.node.name, d.keys,
                                                   *d.router, d.front_door_metrics.get());
  ports.client = d.front_door->start();
  d.running = true;
  return ports;
}

void node::stop() {
  auto& d = *impl_;
  if (!d.running)
    return;
  d.running = false;
  d.front_door->stop();       // no new requests
  d.pool->stop();             // finish password checks already queued
  caf::anon_send_exit(d.user_directory, caf::exit_reason::user_shutdown);
  for (auto& s : d.shards)
    caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  d.system->await_all_actors_done();
  d.exposer.reset();
  d.front_door.reset();       // only now: shards may have delivered until they quit
  d.router.reset();
  d.shards.clear();
  d.user_directory = nullptr;
  d.system.reset();
}

}  // namespace castellan::actors
