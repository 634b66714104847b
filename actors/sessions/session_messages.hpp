// Messages between the front door's router and the session shards, declared
// once. They stay inside one process (they carry a reply_sink), so CAF
// carries them as local-only types (the CAF_ALLOW_UNSAFE_MESSAGE_TYPE list
// at the end).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>

#include "config/users_file.hpp"
#include "net/backend.hpp"
#include "net/events.hpp"
#include "actors/runtime/handover.hpp"

namespace castellan::actors {

// A user as sessions see it: an alias into an immutable users_table snapshot.
using user_ref = std::shared_ptr<const config::user_record>;

// The validate/refresh/logout ops of one I/O thread's event-loop turn that
// belong to one shard, from any number of connections.
struct session_batch {
  net::op_batch batch;
};

// Opens a session after a successful password check.
struct open_session {
  uint64_t request_id = 0;
  net::session_key key{};
  std::string token;  // for the login reply only
  user_ref user;
  std::string ip;
  std::shared_ptr<net::owed_replies> owed;  // answered `unavailable` if this message is lost
};

// Fault injection, checked by the shard that owns the admin's session.
struct crash_request {
  net::session_key key{};
  std::string target;
  uint64_t request_id = 0;
  std::shared_ptr<net::owed_replies> owed;
};

// Benchmarks (debug_populate): first to the admin's shard, which checks the
// role and calls `on_admin` with the admin's user; the router then sends each
// shard its share of new sessions.
struct populate_request {
  net::session_key admin{};
  uint64_t request_id = 0;
  std::shared_ptr<net::owed_replies> owed;
  std::function<void(user_ref)> on_admin;
};

// Sessions to open for `user` as if they had logged in (login_ok records and
// all); `done` is answered once they are durable and applied.
struct populate_sessions {
  user_ref user;
  std::vector<net::session_key> keys;
  std::shared_ptr<net::owed_replies> done;
};

// Session changes from another node (replication or hand-over) to merge into
// this shard's table and record; `done(durable)` runs once the changes that
// took effect are durable (at once when none did).
struct replica_apply {
  std::vector<net::auth_event> events;
  std::function<void(bool)> done;
};

// revoke_user: names every session of `user` in this shard that `owned`
// accepts (all when empty; in a cluster, those this member owns: the owner
// replicates each end to the other holders) as its share of the revoke,
// recorded and applied by revoke_in_shards (revoke_user.hpp).
struct revoke_share;
struct revoke_sessions {
  std::string user;
  std::function<bool(const net::session_key&)> owned;
  std::function<void(revoke_share)> share;
};

// A new users file snapshot: shards drop sessions of removed or disabled users
// and pick up role changes.
struct users_update {
  std::shared_ptr<const config::users_table> users;
};

}  // namespace castellan::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::session_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::open_session)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::users_update)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::crash_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::populate_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::populate_sessions)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::replica_apply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::revoke_sessions)
