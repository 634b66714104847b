// The rate limiter as a login meets it: the keys of a login (user, ip,
// user+ip), the check every shard or member owning one of them makes before
// any password is hashed, and the lesson they learn from the outcome.
// Thread-safe: it only sends messages. In a cluster a key's one bucket lives
// on its owner (limiter_link), so spreading attempts over members does not
// multiply the allowance.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/limiter/limiter_link.hpp"
#include "actors/limiter/limiter_shard.hpp"
#include "actors/runtime/actor_slot.hpp"
#include "net/events.hpp"

namespace castellan::actors {

class login_limits {
 public:
  explicit login_limits(std::vector<slot_ptr<limiter_shard>> shards);

  // The limiter keys of a login by `user` from `ip` (ip may be empty).
  static std::vector<limit_key> keys(const std::string& user, const std::string& ip);

  // Asks every owner of the login's keys; `done` runs once with the most
  // restrictive answer (decision::failed when an owner dropped the check).
  void check(const std::string& user, const std::string& ip,
             std::function<void(const decision&, key_kind)> done);

  // Teaches the owners of their keys the login outcomes among `events`
  // (login_ok refunds and clears failures; login_failed may lock out).
  void learn(const std::vector<net::auth_event>& events);

  // Cluster: from now on keys other members own are checked and taught
  // there. Set before traffic; the link must outlive this object's users.
  void set_link(limiter_link* link) { link_.store(link); }

  const std::vector<slot_ptr<limiter_shard>>& shards() const { return shards_; }

 private:
  std::vector<slot_ptr<limiter_shard>> shards_;
  std::atomic<limiter_link*> link_{nullptr};
};

}  // namespace castellan::actors
