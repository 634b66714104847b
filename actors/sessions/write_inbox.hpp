// Session writes on their way from the log to the table. A write is applied
// to a shard's table only once its record is durable (docs/architecture.md,
// "The log first, then the state"): the audit writer's thread settles each
// group, durable or not, into the table's inbox and wakes the shard; the
// shard applies the durable ones and only then builds their replies, from
// what applying found. The inbox lives with the table, so a write settled
// while its shard restarts is applied by the next one, never lost.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>

#include "actors/sessions/session_messages.hpp"
#include "net/events.hpp"
#include "net/owed_replies.hpp"

namespace castellan::actors {

// A change to one session, as its record states it.
struct session_write {
  enum class kind : uint8_t { open, refresh, end };
  kind what = kind::refresh;
  net::session_key key{};
  int64_t at_ms = 0;     // when it was asked for (the record's time)
  int64_t until_ms = 0;  // open, refresh: the new expiry
  user_ref user;         // open
  uint64_t request_id = 0;
  std::string token;     // open: for the login reply only, never recorded
};

// The change `record` states for `key`: its time and expiry are the
// record's, so what is applied cannot differ from what was logged.
session_write write_of(session_write::kind what, const net::session_key& key,
                       const net::auth_event& record, uint64_t request_id = 0);

// The writes of one durable publish: applied together once settled.
struct write_group {
  std::vector<session_write> writes;
  // Each write answers its request_id through `owed` (when set).
  net::owed_ptr owed;
  // Runs after the group is applied (or refused) with how many writes took
  // effect: revoke and populate answer for the whole group this way.
  std::function<void(uint64_t applied, bool durable)> done;
  bool durable = false;  // set when settled
  bool applied = false;  // set once the shard applied (or refused) it
};

// Thread-safe.
class write_inbox {
 public:
  // The shard now serving the table; settled groups wake it. A restarted
  // shard attaches and then takes what is already there.
  void attach(caf::actor_addr shard);
  // Queues a settled group and wakes the shard (once per non-empty inbox).
  void settle(std::shared_ptr<write_group> group, bool durable);
  // Everything settled so far, oldest first.
  std::vector<std::shared_ptr<write_group>> take();

 private:
  std::mutex mutex_;
  std::vector<std::shared_ptr<write_group>> settled_;
  caf::actor_addr shard_;
};

}  // namespace castellan::actors
