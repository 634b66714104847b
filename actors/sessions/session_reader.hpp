// Answers a validate on the thread that read it (an I/O thread), from the
// shards' session indexes, with no message to the shard and back: the hop
// that cost most of a validate (issue 17; docs/performance.md).
//
// Only where this node's own copy settles the answer: a node outside any
// cluster (a member's copy may lack writes acknowledged elsewhere; those
// validates go to the shard and the owner as before). A session whose user
// the newest users snapshot lacks or has disabled is left to the shard, which
// ends such sessions when it applies that snapshot. A role change shows here
// from the moment the snapshot is published, a mailbox hop before the shards
// apply it (they answer refreshes and logins with the roles they applied).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "actors/sessions/session_table.hpp"
#include "config/users_file.hpp"
#include "net/backend.hpp"

namespace castellan::actors {

class session_reader {
 public:
  // `tables` in shard order; `users` numbered (user_record::id).
  session_reader(std::vector<std::shared_ptr<session_table>> tables,
                 std::shared_ptr<reader_epochs> epochs,
                 std::shared_ptr<const config::users_table> users);
  ~session_reader();
  session_reader(const session_reader&) = delete;
  session_reader& operator=(const session_reader&) = delete;

  // A new users snapshot for names and roles. One caller at a time.
  void set_users(std::shared_ptr<const config::users_table> users);

  // Adds the validate's reply to `out` and sets `result` (request_stats'
  // code) if this thread can answer it now; false: the shard must.
  bool validate(const net::session_op& op, int64_t now_ms, net::reply_buffer& out,
                uint8_t& result);

 private:
  struct users_by_number;

  std::vector<std::shared_ptr<session_table>> tables_;
  std::shared_ptr<reader_epochs> epochs_;
  std::atomic<const users_by_number*> users_{nullptr};
  std::mutex retire_mutex_;
  struct retired_users {
    const users_by_number* users;
    uint64_t epoch;
  };
  std::vector<retired_users> retired_;
};

}  // namespace castellan::actors
