// One node's parts, as data: what each start step makes, grouped by concern,
// and the stop stack that undoes the steps in reverse. Private to
// actors/node (its .cpp files split the node by concern: node.cpp starts and
// stops it, node_tree.cpp declares the supervision tree, node_cluster.cpp
// joins and leaves the cluster).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/audit/audit_writer.hpp"
#include "actors/audit/event_stream.hpp"
#include "actors/cluster/cluster_backend.hpp"
#include "actors/cluster/cluster_tls.hpp"
#include "actors/limiter/limiter_shard.hpp"
#include "actors/limiter/login_limits.hpp"
#include "actors/node/node.hpp"
#include "actors/node/node_metrics.hpp"
#include "actors/node/stop_stack.hpp"
#include "actors/recovery/snapshotter.hpp"
#include "actors/router/password_pool.hpp"
#include "actors/directory/user_numbers.hpp"
#include "actors/router/session_router.hpp"
#include "actors/runtime/actor_slot.hpp"
#include "actors/runtime/crash_targets.hpp"
#include "actors/runtime/supervisor.hpp"
#include "actors/sessions/session_shard.hpp"
#include "actors/storage/audit_log.hpp"
#include "monitor/http_endpoint.hpp"
#include "monitor/monitor_actor.hpp"
#include "monitor/node_routes.hpp"
#include "monitor/process_metrics.hpp"
#include "monitor/status_board.hpp"
#include "net/front_door.hpp"

namespace castellan::actors {

class limiter_table;
class session_table;

// The current handle of every supervised actor, and the state that outlives
// their restarts (the tables).
struct node_actors {
  slot_ptr<audit_writer> writer = make_slot<audit_writer>();
  std::vector<slot_ptr<limiter_shard>> limiters;
  std::vector<slot_ptr<session_shard>> shards;
  std::vector<std::shared_ptr<limiter_table>> limiter_tables;
  std::vector<std::shared_ptr<session_table>> session_tables;
  slot_ptr<caf::actor> user_directory = make_slot<caf::actor>();
  slot_ptr<caf::actor> limiter_supervisor = make_slot<caf::actor>();
  slot_ptr<caf::actor> session_supervisor = make_slot<caf::actor>();
  slot_ptr<caf::actor> monitor = make_slot<caf::actor>();

  // Whether every slot holds its actor (the tree has come up).
  bool all_started() const;
  // Drops every handle, so the actor system can be destroyed.
  void clear();
};

struct node::impl {
  explicit impl(config::node_settings s);

  config::node_settings settings;
  std::function<void(const std::string&)> on_failure;
  std::atomic<bool> stopping{false};  // the tree going down is no failure now
  bool running = false;
  int64_t started_ms = 0;
  std::atomic<uint16_t> client_port{0};  // as bound (the config may say 0)
  stop_stack stops;

  // -- files: keys, users, the audit log --------------------------------------
  std::shared_ptr<const net::keyring> keys;  // in force; replaced by the key directory
  std::mutex keys_mutex;
  std::shared_ptr<audit_log> log;
  std::shared_ptr<audit_health> audit = std::make_shared<audit_health>();
  // Drills (testing.fault_injection) arm it through debug_crash; null otherwise.
  std::shared_ptr<storage_faults> faults;
  uint64_t covered = 1;  // log position of the newest snapshot at start

  // -- observing: metrics first, so every component gets its handles ----------
  node_metrics metrics;
  std::shared_ptr<monitor::status_board> board = std::make_shared<monitor::status_board>();
  std::shared_ptr<crash_targets> crash = std::make_shared<crash_targets>();
  // process_*, build info and readiness, read when scraped.
  monitor::process_collector process_metrics{[this] { return not_ready().empty(); }};

  // -- the actor runtime and the supervision tree -----------------------------
  std::unique_ptr<caf::actor_system_config> caf_config;
  std::unique_ptr<caf::actor_system> system;
  node_actors actors;
  caf::actor root;
  caf::actor root_watcher;

  // -- services that run on other threads and only send ------------------------
  std::shared_ptr<event_stream> events;
  std::shared_ptr<login_limits> limits;
  std::unique_ptr<password_pool> pool;
  std::unique_ptr<session_router> router;
  user_numbers user_ids;  // every users snapshot is numbered before it is shared
  // The I/O threads that read the session indexes (session_reader.hpp),
  // with room for threads started after a restart of the listener.
  std::shared_ptr<reader_epochs> readers = std::make_shared<reader_epochs>(64);
  std::unique_ptr<snapshotter> snapshots;

  // -- the cluster (null outside one) ------------------------------------------
  std::unique_ptr<cluster_backend> membership;
  // The same, for readers on other threads (monitor, HTTP) while it is set up.
  std::atomic<const cluster_backend*> membership_view{nullptr};
  caf::actor cluster_node;
  caf::actor cluster_watcher;
  // [cluster.tls]: what CAF's OpenSSL module reads, and who renews it.
  std::shared_ptr<cluster_tls_copies> cluster_tls;
  caf::actor cluster_tls_watch;

  // -- listeners ---------------------------------------------------------------
  std::unique_ptr<monitor::http_endpoint> endpoint;
  std::unique_ptr<net::front_door> front_door;

  // node.cpp: the start steps, each pushing its stop.
  void load_files();
  void open_audit_log();
  void start_runtime();
  void start_services();
  void recover(const std::shared_ptr<const config::users_table>& users);
  void start_tree();
  void start_pool();
  void start_snapshotter();
  void start_endpoint(node_ports& ports);
  void start_front_door(node_ports& ports);
  void release_everything();
  void publish_keys(std::shared_ptr<const net::keyring> now, const net::keyring& before);
  void publish_users(std::shared_ptr<const config::users_table> fresh);
  std::shared_ptr<const net::keyring> keys_in_force();
  std::vector<monitor::not_ready_reason> not_ready() const;
  monitor::route_sources routes();

  // node_tree.cpp: the supervision tree, as data.
  supervisor_spec root_spec();
  supervisor_spec audit_spec();
  supervisor_spec limiter_spec();
  supervisor_spec session_spec();
  monitor::monitor_sources monitor_sources();
  void register_crash_targets();
  void await_tree();
  limiter_settings limiter_settings_now() const;

  // node_cluster.cpp: joining, leaving, and the cluster as this node sees it.
  void configure_cluster_tls();
  bool reload_cluster_tls();
  void start_cluster();
  void leave_cluster();
  net::member_load member_load();
  std::string cluster_not_ready() const;
  std::string cluster_json();
};

// The limiter policies a config section asks for (start and reload).
rate_policies policies_of(const config::limiter_config& c);

// Watches `watched`; its death while the node is not stopping is the node
// failing (the root supervisor gave up, or the cluster node died).
caf::actor watch_for_failure(caf::actor_system& sys, caf::actor watched,
                             std::function<void(const std::string&)>* on_failure,
                             std::atomic<bool>* stopping);

}  // namespace castellan::actors
