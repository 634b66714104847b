// The seam through which session changes reach the other nodes that hold the
// same sessions (the cluster's replicas). CAF-free: the event stream calls it
// on whatever thread publishes; the cluster node implements it.
#pragma once

#include <functional>
#include <vector>

#include "net/events.hpp"

namespace castellan::actors {

class replicator {
 public:
  virtual ~replicator() = default;

  // Sends the session changes among `events` (login_ok, refresh, logout) to
  // every other holder of their sessions. Returns false when no other node
  // holds any of them (nothing sent; `done` is not called). Otherwise `done`
  // runs once, with true when every holder has made them durable, false when
  // any holder refused, vanished or did not answer in time.
  virtual bool replicate(const std::vector<net::auth_event>& events,
                         std::function<void(bool)> done) = 0;
};

// Whether an event changes a session that replicas must hear of.
inline bool replicated_kind(const net::auth_event& e) {
  if (e.session.empty())
    return false;
  auto k = e.type();
  return k == net::event_kind::login_ok || k == net::event_kind::refresh ||
         k == net::event_kind::logout;
}

}  // namespace castellan::actors
