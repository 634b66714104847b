// Where events go. Every outcome is published here once; the stream records
// it in the audit log, hands it to its listener (the limiter learns from
// login outcomes) and, in a cluster, to the other holders of what it changes.
// Publishers do not call the limiter or the audit writer ad hoc. Thread-safe:
// it only sends messages.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/audit/audit_writer.hpp"
#include "actors/runtime/actor_slot.hpp"
#include "actors/audit/replication_link.hpp"
#include "net/events.hpp"

namespace castellan::actors {

class event_stream {
 public:
  event_stream(std::string node, slot_ptr<audit_writer> writer);

  // Called once, before traffic: `listener` sees every event this node
  // publishes (not those appended from other nodes): at once for publish(),
  // and for a durable publish only once it is durable (the log first, then
  // the state: a login told `unavailable` counts toward no lockout). It runs
  // on the publisher's or the audit writer's thread, so it only sends.
  using listener = std::function<void(const std::vector<net::auth_event>&)>;
  void set_listener(listener l) { listener_ = std::move(l); }

  // A fresh event of `kind` from this node, stamped now.
  net::auth_event make(net::event_kind kind) const { return net::make_event(kind, node_); }

  // Records events; nobody waits for them.
  void publish(std::vector<net::auth_event> events);

  // Records events and releases `replies` (answering `request_ids`, owed
  // through `owed`) only once the records are durable; otherwise each
  // request gets `unavailable` and `on_failure` runs. With `teach` false the
  // listener does not learn from them (a login that shared another's check:
  // the limiter learns that check's outcome once).
  void publish_durable(std::vector<net::auth_event> events, std::shared_ptr<net::owed_replies> owed,
                       net::reply_buffer replies, std::vector<uint64_t> request_ids,
                       std::function<void()> on_failure = {}, bool teach = true);

  // Records events (and replicates the session changes among them, like the
  // publish above) and runs `done(durable)` once this node's log and every
  // other holder have them; nobody's reply depends on it directly.
  void publish_durable(std::vector<net::auth_event> events, std::function<void(bool)> done);

  // Records events that came from another node (replication, hand-over) and
  // runs `done(durable)`; the limiter does not learn from them (the node
  // that served the login taught its owners already).
  void append_durable(std::vector<net::auth_event> events, std::function<void(bool)> done);

  // Cluster: from now on, a durable publish that changes sessions other
  // nodes also hold is released only once they have it too. Set before
  // traffic; the link must outlive the stream's users.
  void set_replication(replication_link* link) { link_.store(link); }

 private:
  // `done`, preceded by the listener once the events are durable (when it
  // learns from any of them).
  std::function<void(bool)> learn_once_durable(const std::vector<net::auth_event>& events,
                                               std::function<void(bool)> done) const;
  void tell_listener(const std::vector<net::auth_event>& events) const {
    if (listener_)
      listener_(events);
  }

  std::string node_;
  slot_ptr<audit_writer> writer_;
  listener listener_;
  std::atomic<replication_link*> link_{nullptr};  // set once the cluster node runs
};

}  // namespace castellan::actors
