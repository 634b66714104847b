// The supervision tree of one authd node, as data, top to bottom:
//
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
//
// Strategies and restart intensity (R restarts in T, then escalate) follow
// Erlang/OTP; if the root gives up, the node's failure handler runs and authd
// exits 3. The order the rest of the node starts in is node.cpp's.
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_actor.hpp>
#include <prometheus/counter.h>

#include "actors/directory/key_directory.hpp"
#include "actors/directory/user_directory.hpp"
#include "actors/limiter/limiter_table.hpp"
#include "actors/node/node_impl.hpp"
#include "actors/runtime/atoms.hpp"

namespace castellan::actors {
namespace {

rate_policy to_policy(const config::limit_policy_config& c) {
  return {c.rate_per_s, c.burst, c.lockout_after, c.lockout_base_ms, c.lockout_max_ms};
}

std::chrono::milliseconds ms(int64_t n) { return std::chrono::milliseconds(n); }

// Restarts counted by actor kind (castellan_actor_restarts_total{kind}).
std::function<void(const std::string&)> counter_for(const supervision_metrics& m,
                                                    const std::string& kind) {
  auto* counter = m.restarts_of(kind);
  return [counter](const std::string&) { counter->Increment(); };
}

}  // namespace

rate_policies policies_of(const config::limiter_config& c) {
  return {to_policy(c.user), to_policy(c.ip), to_policy(c.user_ip)};
}

limiter_settings node::impl::limiter_settings_now() const {
  auto& l = settings.limiter;
  return {policies_of(l), std::max<size_t>(1, l.max_keys / l.shards), l.sweep_interval_ms, 10000,
          metrics.limiter.get()};
}

// The root's children are subtrees (counted as "supervisor") and single
// actors (the monitor, counted as itself).
supervisor_spec node::impl::root_spec() {
  auto* subtree = metrics.supervision->restarts_of("supervisor");
  auto* monitor_restarts = metrics.supervision->restarts_of("monitor");
  supervisor_spec root{"root", supervision_strategy::rest_for_one,
                       settings.supervision.root_max_restarts, ms(settings.supervision.root_period_ms),
                       {}, [subtree, monitor_restarts](const std::string& child) {
                         (child == "monitor" ? monitor_restarts : subtree)->Increment();
                       }};
  root.children.push_back({"audit", [this](caf::actor_system& sys) {
                             return spawn_supervisor(sys, audit_spec());
                           }});
  root.children.push_back({"limiter", [this](caf::actor_system& sys) {
                             auto s = spawn_supervisor(sys, limiter_spec());
                             actors.limiter_supervisor->set(s);
                             return s;
                           }});
  root.children.push_back({"sessions", [this](caf::actor_system& sys) {
                             auto s = spawn_supervisor(sys, session_spec());
                             actors.session_supervisor->set(s);
                             return s;
                           }});
  root.children.push_back({"user_directory", [this](caf::actor_system& sys) {
                             auto d = spawn_user_directory(
                                 sys, settings.users_file(), ms(settings.users.reload_interval_ms),
                                 [this](auto fresh) { publish_users(std::move(fresh)); });
                             actors.user_directory->set(d);
                             return d;
                           }});
  root.children.push_back({"key_directory", [this](caf::actor_system& sys) {
                             return spawn_key_directory(
                                 sys, settings.key_file(), ms(settings.tokens.reload_interval_ms),
                                 keys_in_force(), [this](auto now, auto before) {
                                   publish_keys(std::move(now), *before);
                                 });
                           }});
  root.children.push_back({"monitor", [this](caf::actor_system& sys) {
                             auto m = monitor::spawn_monitor(sys, monitor_sources());
                             actors.monitor->set(m);
                             return m;
                           }});
  return root;
}

supervisor_spec node::impl::audit_spec() {
  supervisor_spec s{"audit", supervision_strategy::one_for_one, settings.supervision.max_restarts,
                    ms(settings.supervision.period_ms), {},
                    counter_for(*metrics.supervision, "audit_writer")};
  s.children.push_back({"audit_writer", [this](caf::actor_system& sys) {
                          auto w = spawn_audit_writer(sys, log, audit, settings.audit.enabled,
                                                      metrics.audit.get());
                          actors.writer->set(w);
                          return caf::actor_cast<caf::actor>(w);
                        }});
  return s;
}

supervisor_spec node::impl::limiter_spec() {
  supervisor_spec s{"limiter", supervision_strategy::one_for_one, settings.supervision.max_restarts,
                    ms(settings.supervision.period_ms), {},
                    counter_for(*metrics.supervision, "limiter_shard")};
  for (size_t i = 0; i < actors.limiters.size(); ++i)
    s.children.push_back({"limiter_shard_" + std::to_string(i), [this, i](caf::actor_system& sys) {
                            auto mine = limiter_settings_now();
                            mine.mailbox_depth =
                                metrics.supervision->mailbox_of("limiter_shard", std::to_string(i));
                            if (metrics.limiter)
                              mine.protected_keys = metrics.limiter->protected_keys_of(i);
                            auto l = spawn_limiter_shard(sys, mine, actors.limiter_tables[i], events);
                            actors.limiters[i]->set(l);
                            return caf::actor_cast<caf::actor>(l);
                          }});
  return s;
}

// Each session shard holds an equal share of the node's session budget.
supervisor_spec node::impl::session_spec() {
  supervisor_spec s{"sessions", supervision_strategy::one_for_one,
                    settings.supervision.max_restarts, ms(settings.supervision.period_ms), {},
                    counter_for(*metrics.supervision, "session_shard")};
  size_t n = actors.shards.size();
  size_t capacity = (size_t{settings.sessions.max_sessions} + n - 1) / n;
  for (size_t i = 0; i < n; ++i)
    s.children.push_back({"session_shard_" + std::to_string(i),
                          [this, capacity, i](caf::actor_system& sys) {
                            // A restarted shard sees the users as they are now.
                            auto sh = spawn_session_shard(
                                sys, {settings.sessions, actors.session_tables[i], capacity, events,
                                      audit, router->users(), metrics.sessions.get(),
                                      metrics.supervision->mailbox_of("session_shard",
                                                                      std::to_string(i)),
                                      crash});
                            actors.shards[i]->set(sh);
                            return caf::actor_cast<caf::actor>(sh);
                          }});
  return s;
}

monitor::monitor_sources node::impl::monitor_sources() {
  monitor::monitor_sources src;
  src.node = settings.node.name;
  src.address = [this] { return settings.server.host + ":" + std::to_string(client_port.load()); };
  src.started_ms = started_ms;
  src.interval = ms(settings.monitor.summary_interval_ms);
  src.requests = metrics.requests.get();
  src.read_gauges = [this](net::metrics_summary_reply& s) { metrics.read_gauges(s); };
  src.not_ready = [this] {
    std::vector<std::string> reasons;
    for (auto& r : not_ready())
      reasons.push_back(r.component + ": " + r.reason);
    return reasons;
  };
  src.board = board;
  return src;
}

// What debug_crash can reach besides a session shard (which crashes itself),
// and the storage faults it can arm.
void node::impl::register_crash_targets() {
  crash->add("limiter_shard",
             [this] { caf::anon_send(actors.limiters.front()->get(), crash_atom_v); });
  crash->add("audit_writer", [this] { caf::anon_send(actors.writer->get(), crash_atom_v); });
  crash->add("monitor", [this] { caf::anon_send(actors.monitor->get(), crash_atom_v); });
  crash->add("front_door_listener", [this] {
    if (front_door)
      front_door->crash_listener();
  });
  // The disk failing the next audit commit, the ways a disk fails.
  if (!faults)
    return;
  crash->add("audit_write", [f = faults] { f->arm(storage_fault::write_fails); });
  crash->add("audit_sync", [f = faults] { f->arm(storage_fault::sync_fails); });
  crash->add("audit_disk_full", [f = faults] { f->arm(storage_fault::disk_full); });
  crash->add("audit_sync_stall", [f = faults] { f->arm(storage_fault::sync_stalls); });
}

// Spawning is asynchronous: the supervisors start their children when first
// scheduled. Nothing may be sent (and no client accepted) before every slot
// holds its actor. Bounded: a tree that does not come up fails the start.
void node::impl::await_tree() {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!actors.all_started()) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("the actor tree did not start within 10 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

bool node_actors::all_started() const {
  if (!writer->get() || !user_directory->get() || !monitor->get())
    return false;
  for (auto& l : limiters)
    if (!l->get())
      return false;
  for (auto& s : shards)
    if (!s->get())
      return false;
  return true;
}

void node_actors::clear() {
  for (auto& sl : shards)
    sl->clear();
  for (auto& sl : limiters)
    sl->clear();
  writer->clear();
  user_directory->clear();
  monitor->clear();
  limiter_supervisor->clear();
  session_supervisor->clear();
  shards.clear();
  limiters.clear();
}

namespace {

// The behavior takes its inputs as spawn arguments, not lambda captures: a
// spawn with none trips UBSan inside CAF 0.17's init_fun_factory.
caf::behavior failure_watch(caf::event_based_actor* self, caf::actor watched,
                            std::function<void(const std::string&)>* on_failure,
                            std::atomic<bool>* stopping) {
  self->monitor(watched);
  self->set_down_handler([self, on_failure, stopping](caf::down_msg& msg) {
    if (!stopping->load() && *on_failure)
      (*on_failure)(caf::to_string(msg.reason));
    self->quit();
  });
  return {[](caf::unit_t) {}};
}

}  // namespace

caf::actor watch_for_failure(caf::actor_system& sys, caf::actor watched,
                             std::function<void(const std::string&)>* on_failure,
                             std::atomic<bool>* stopping) {
  return sys.spawn(failure_watch, std::move(watched), on_failure, stopping);
}

}  // namespace castellan::actors
