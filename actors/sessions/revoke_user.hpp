// revoke_user in two steps, shared by the single node (session_router) and a
// cluster member (cluster_backend), which differ only in how far the second
// step reaches:
//   1. who is calling: the caller's session is looked up like a validate
//      (in a cluster, on its owner); only an admin or the user themself may;
//   2. `spread` ends the user's sessions and reports how many; then a
//      sessions_revoked record is made durable and the reply released.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "actors/runtime/actor_slot.hpp"
#include "actors/runtime/fan_in.hpp"
#include "actors/sessions/session_shard.hpp"
#include "actors/sessions/write_inbox.hpp"
#include "net/backend.hpp"
#include "net/owed_replies.hpp"

namespace castellan::actors {

class event_stream;
class session_table;

// One part's share of a revoke: the sessions it ended, and whether their
// ends were made durable (everywhere they are held).
struct revoke_count {
  uint64_t ended = 0;
  bool ok = true;
};

// Gathers the counts of several parts (shards, members), fan_in.hpp:
// `done(total, all ok)` once after the last. A part dropped unanswered (its
// message died with its actor, its member did not answer in time) counts as
// (0, false), so the revoke is refused rather than reported complete.
using revoke_join = fan_in<revoke_count>;
revoke_join make_revoke_join(std::function<void(uint64_t, bool)> done);

// A new part of `join` as the callback shards and members answer through;
// every copy shares the part, and dropping the last uncalled is the loss.
inline std::function<void(uint64_t, bool)> revoke_part(revoke_join& join) {
  return [part = join.add()](uint64_t n, bool ok) { part({n, ok}); };
}

// One shard's share of a revoke on this node: the records ending the user's
// sessions it holds, and the writes applying them to its table once durable.
struct revoke_share {
  std::vector<net::auth_event> records;
  std::shared_ptr<write_group> writes;
  std::shared_ptr<session_table> table;  // whose inbox the writes settle into
  bool lost = false;                     // the shard died with the request
};

// Ends `user`'s sessions in `shards` (those `owned` accepts; all when
// empty) all or nothing: every shard names its share, the records of all
// go to the log in one append (one commit), and only once that is durable
// does any table change. done(count, durable); not durable: nothing ended.
void revoke_in_shards(const std::vector<slot_ptr<session_shard>>& shards,
                      std::shared_ptr<event_stream> events, const std::string& user,
                      std::function<bool(const net::session_key&)> owned,
                      std::function<void(uint64_t, bool)> done);

using revoke_spread =
    std::function<void(const std::string& user, std::function<void(uint64_t, bool)> done)>;

void run_revoke_user(net::request_backend& backend, std::shared_ptr<event_stream> events,
                     const net::session_key& caller, std::string user, net::owed_ptr owed,
                     revoke_spread spread);

}  // namespace castellan::actors
