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
#include <mutex>
#include <string>

#include "net/backend.hpp"
#include "net/owed_replies.hpp"

namespace castellan::actors {

class event_stream;

// Gathers the counts of several parts (shards, members); `done(total, all
// ok)` after the last. A part that is lost unanswered must be reported as
// arrive(0, false) by whoever loses it.
class revoke_join {
 public:
  revoke_join(size_t parts, std::function<void(uint64_t, bool)> done)
      : waiting_(parts), done_(std::move(done)) {}
  void arrive(uint64_t count, bool ok) {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      total_ += count;
      ok_ = ok_ && ok;
      if (--waiting_ > 0)
        return;
    }
    done_(total_, ok_);
  }

 private:
  std::mutex mutex_;
  size_t waiting_;
  uint64_t total_ = 0;
  bool ok_ = true;
  std::function<void(uint64_t, bool)> done_;
};

// One part's callback into `join`: reports (count, ok) when called, or
// (0, false) if every copy of it is dropped uncalled (the message carrying it
// died with its actor).
inline std::function<void(uint64_t, bool)> revoke_part(std::shared_ptr<revoke_join> join) {
  struct guard {
    std::shared_ptr<revoke_join> join;
    std::mutex mutex;
    bool answered = false;
    ~guard() {
      if (!answered)
        join->arrive(0, false);
    }
    void answer(uint64_t n, bool ok) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (answered)
          return;
        answered = true;
      }
      join->arrive(n, ok);
    }
  };
  auto g = std::make_shared<guard>();
  g->join = std::move(join);
  return [g](uint64_t n, bool ok) { g->answer(n, ok); };
}

using revoke_spread =
    std::function<void(const std::string& user, std::function<void(uint64_t, bool)> done)>;

void run_revoke_user(net::request_backend& backend, std::shared_ptr<event_stream> events,
                     const net::session_key& caller, std::string user, net::owed_ptr owed,
                     revoke_spread spread);

}  // namespace castellan::actors
