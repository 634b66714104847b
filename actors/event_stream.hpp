// Where events go. Every outcome is published here once; the stream records
// it in the audit log and, for login outcomes, routes it to the limiter
// shards that own its keys, which learn from it. Publishers do not call the
// limiter or the audit writer ad hoc. Thread-safe: it only sends messages.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

// Holds actor handles by value: include only from actors/*.cpp.
#include <caf/typed_actor.hpp>

#include "actors/actor_slot.hpp"
#include "actors/audit_writer.hpp"
#include "actors/limiter_shard.hpp"
#include "actors/cluster_link.hpp"
#include "net/events.hpp"

namespace castellan::actors {

class event_stream {
 public:
  event_stream(std::string node, slot_ptr<audit_writer> writer);

  // Called once, before traffic: the limiter shards learn login outcomes.
  void set_limiters(std::vector<slot_ptr<limiter_shard>> limiters);

  // A fresh event of `kind` from this node, stamped now.
  net::auth_event make(net::event_kind kind) const { return net::make_event(kind, node_); }

  // Records events; nobody waits for them.
  void publish(std::vector<net::auth_event> events);

  // Records events and releases `replies` (answering `request_ids`, owed
  // through `owed`) only once the records are durable; otherwise each
  // request gets `unavailable` and `on_failure` runs.
  void publish_durable(std::vector<net::auth_event> events, std::shared_ptr<net::owed_replies> owed,
                       net::reply_buffer replies, std::vector<uint64_t> request_ids,
                       std::function<void()> on_failure = {});

  // Records events (and replicates the session changes among them, like the
  // publish above) and runs `done(durable)` once this node's log and every
  // other holder have them; nobody's reply depends on it directly.
  void publish_durable(std::vector<net::auth_event> events, std::function<void(bool)> done);

  // Records events that came from another node (replication, hand-over) and
  // runs `done(durable)`; the limiter does not learn from them (the node
  // that served the login taught its owners already).
  void append_durable(std::vector<net::auth_event> events, std::function<void(bool)> done);

  // Cluster: from now on, a durable publish that changes sessions other
  // nodes also hold is released only once they have it too, and login
  // outcomes teach the members that own their limiter keys. Set before
  // traffic; the link must outlive the stream's users.
  void set_cluster_link(cluster_link* link) { link_.store(link); }
  cluster_link* link() const { return link_.load(); }

  // The limiter keys of a login by `user` from `ip` (ip may be empty).
  static std::vector<limit_key> login_keys(const std::string& user, const std::string& ip);

  const std::vector<slot_ptr<limiter_shard>>& limiters() const { return limiters_; }

 private:
  void teach_limiters(const std::vector<net::auth_event>& events);

  std::string node_;
  slot_ptr<audit_writer> writer_;
  std::vector<slot_ptr<limiter_shard>> limiters_;
  std::atomic<cluster_link*> link_{nullptr};  // set once the cluster node runs
};

}  // namespace castellan::actors
