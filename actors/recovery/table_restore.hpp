// The last step of recovery: what a session_projection holds, as of now,
// goes into the node's session and limiter tables, each entry to the shard
// that owns it. Runs before any actor does, so the tables need no lock.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "actors/recovery/session_projection.hpp"
#include "config/users_file.hpp"

namespace castellan::actors {

class session_table;
class limiter_table;

struct restored_counts {
  size_t sessions = 0;
  size_t lockouts = 0;
};

// Leaves out sessions expired by `now_ms` or whose user is now removed or
// disabled, and lockouts already over. Fills the session tables in
// parallel (one thread per shard, up to the cores there are): it is cache-
// miss bound, and this roughly halves it on two cores.
restored_counts restore_tables(const session_projection& projection,
                               const std::shared_ptr<const config::users_table>& users,
                               const std::vector<std::shared_ptr<session_table>>& sessions,
                               const std::vector<std::shared_ptr<limiter_table>>& limiters,
                               int64_t now_ms);

}  // namespace castellan::actors
