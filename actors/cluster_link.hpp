// The seam through which the node's own components reach the other cluster
// members: session changes go to the other holders of their sessions (the
// replicas), and rate-limit keys are checked and taught where their owner
// keeps the one bucket the cluster has for them. CAF-free: the event stream
// and the router call it on whatever thread they run; the cluster backend
// implements it. Outside a cluster nobody sets it and everything is local.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/limiter_shard.hpp"
#include "net/events.hpp"
#include "net/ring.hpp"

namespace castellan::actors {

class cluster_link {
 public:
  virtual ~cluster_link() = default;

  // Sends the session changes among `events` (login_ok, refresh, logout) to
  // every other holder of their sessions. Returns false when no other node
  // holds any of them (nothing sent; `done` is not called). Otherwise `done`
  // runs once, with true when every holder has made them durable, false when
  // any holder refused, vanished or did not answer in time.
  virtual bool replicate(const std::vector<net::auth_event>& events,
                         std::function<void(bool)> done) = 0;

  // The member that owns limiter key `key`; "" when it is this node.
  virtual std::string limiter_owner(const limit_key& key) const = 0;
  // Asks `member` to check `keys` (it owns them) for one login; answers
  // through `join` once (a lost or late answer drops it: `failed`).
  virtual void check_remote(const std::string& member, std::vector<limit_key> keys,
                            std::shared_ptr<limit_join> join) = 0;
  // Tells `member` a login's outcome for the keys it owns.
  virtual void teach_remote(const std::string& member, limit_outcome outcome) = 0;
};

// Where a rate-limit key sits on the ring (its owner holds its one bucket).
inline uint64_t limiter_ring_hash(const limit_key& key) {
  return net::ring_hash(std::string(to_string(key.kind)) + ":" + key.value);
}

// Whether an event changes a session that replicas must hear of.
inline bool replicated_kind(const net::auth_event& e) {
  if (e.session.empty())
    return false;
  auto k = e.type();
  return k == net::event_kind::login_ok || k == net::event_kind::refresh ||
         k == net::event_kind::logout;
}

}  // namespace castellan::actors
