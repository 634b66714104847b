// A session shard: the actor that owns one hash range of sessions (by session
// id). It answers batches of validate/refresh/logout and opens sessions after
// a login, replying through the request's reply_sink.
#pragma once

#include <memory>

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>

#include "actors/runtime/atoms.hpp"

#include "actors/sessions/session_messages.hpp"
#include "config/config.hpp"
#include "net/token.hpp"
#include "actors/sessions/session_metrics.hpp"

namespace prometheus {
class Gauge;
}

namespace castellan::actors {

class crash_targets;

using session_shard = caf::typed_actor<
  // One reply frame per op through batch.sink: validate -> validate_reply
  // (at once, never waiting for audit), refresh -> refresh_reply and logout
  // -> logout_reply (once their records are durable and applied);
  // invalid_token for an unknown session, expired for one past its expiry
  // (until the sweep removes it). No I/O on this thread.
  caf::reacts_to<session_batch>,
  // Opens a session and delivers a login_reply carrying a freshly minted token,
  // or `unavailable` when the shard holds its share of sessions.max_sessions,
  // or forbidden/bad_credentials if the user was disabled/removed meanwhile.
  caf::reacts_to<open_session>,
  // Applies a new users snapshot: drops sessions of removed/disabled users.
  caf::reacts_to<users_update>,
  // Applies the writes the audit writer settled into the table's inbox and
  // answers them (write_inbox.hpp).
  caf::reacts_to<apply_atom>,
  // Fault injection (testing.fault_injection): throws, so the supervisor
  // restarts the shard. Its sessions survive: the table outlives the actor.
  caf::reacts_to<crash_atom>,
  // Checks the admin session of a debug_crash, answers it, then makes the
  // target throw (this shard, a limiter shard or the audit writer).
  caf::reacts_to<crash_request>,
  // Benchmarks (debug_populate): checks the admin, then opens sessions in bulk.
  caf::reacts_to<populate_request>,
  caf::reacts_to<populate_sessions>,
  // Cluster: merges another node's session changes (an end always wins, else
  // the later expiry), records those that took effect, then calls done.
  caf::reacts_to<replica_apply>,
  // Cluster: hands sessions to members that now hold them too; forgets the
  // ones this node no longer holds.
  caf::reacts_to<rebalance>,
  // revoke_user: ends a user's sessions (logout records, replicated).
  caf::reacts_to<revoke_sessions>>;

class event_stream;
class audit_health;
class session_table;

// What a shard works with. The table is owned outside the actor so that a
// restarted shard keeps every session.
struct session_shard_deps {
  config::sessions_config cfg;
  std::shared_ptr<session_table> table;
  size_t capacity = 0;                               // most sessions this shard holds
  std::shared_ptr<event_stream> events;
  std::shared_ptr<audit_health> audit;
  std::shared_ptr<const config::users_table> users;  // the newest snapshot at spawn time
  actors::session_metrics* metrics = nullptr;       // may be null; outlives the shard
  prometheus::Gauge* mailbox_depth = nullptr;         // this shard's, may be null
  std::shared_ptr<const crash_targets> crash;         // debug_crash targets
};

// Spawns a shard that sweeps expired sessions every cfg.sweep_interval_ms and
// holds at most `capacity` sessions. Writes (login, refresh, logout, revoke)
// change the table only once their records are durable; with the audit log
// not writable they are refused with `unavailable` and change nothing.
session_shard spawn_session_shard(caf::actor_system& sys, session_shard_deps deps);

// Which of `shard_count` shards owns `key`.
size_t shard_index(const net::session_key& key, size_t shard_count);

}  // namespace castellan::actors
