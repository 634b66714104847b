// The seam through which published events reach the other cluster members
// that hold copies of what they change (session changes and lockouts go to
// the other holders of their key). CAF-free: the event stream calls it on
// whatever thread it runs; the cluster backend implements it. Outside a
// cluster nobody sets it and everything is local.
#pragma once

#include <functional>
#include <vector>

#include "net/events.hpp"

namespace castellan::actors {

class replication_link {
 public:
  virtual ~replication_link() = default;

  // Sends the session changes among `events` (login_ok, refresh, logout) and
  // the lockouts to every other holder of their key. Returns false when no
  // other node holds any of them (nothing sent; `done` is not called).
  // Otherwise `done` runs once, with true when every holder has made them
  // durable, false when any holder refused, vanished or did not answer in time.
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

// Whether an event starts or ends a lockout (the other holders of its key
// keep enforcing it if the owner dies).
inline bool lockout_kind(const net::auth_event& e) {
  auto k = e.type();
  return k == net::event_kind::lockout_started || k == net::event_kind::lockout_ended;
}

}  // namespace castellan::actors
