// The rate-limit keys one limiter shard owns, bounded in memory.
//
// Keys live on two LRU lists: protected ones (a lockout in force, a backoff
// still remembered, failures still counting: is_protected) and the rest.
// Eviction policy (docs/rate-limiting.md):
//   1. sweeps drop idle keys (bucket refilled, not protected: they carry no
//      information), visiting a bounded number of keys per sweep, least
//      recently seen first, and move keys whose protection lapsed back;
//   2. at max_keys, the least recently seen unprotected key is evicted to
//      make room for a new one, idle or not (counted in `evicted_busy`);
//   3. a protected key is never evicted: when every key is protected, a new
//      key is refused (the check fails closed, `refused_full`) rather than
//      lifting somebody's lockout. A failure on a key evicted while its login
//      was being checked is remembered even beyond max_keys (`overflow`):
//      only keys of logins already in flight, which the password pool
//      bounds, can be evicted that way before the table is all protected
//      and admits nothing new (a login's keys never evict each other).
// Every step is O(1) but the sweep's, which is bounded by its budget.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/limiter/rate_policy.hpp"
#include "net/events.hpp"

namespace castellan::actors {

enum class key_kind : uint8_t { user, ip, user_ip };
inline constexpr size_t key_kind_count = 3;
const char* to_string(key_kind kind);

struct limit_key {
  key_kind kind = key_kind::user;
  std::string value;  // "alice", "10.0.0.7", "alice|10.0.0.7"
};

// The key a lockout_started / lockout_ended event is about (the event names
// the user, the IP, or both, by the key's kind in `reason`); nullopt for any
// other event.
std::optional<limit_key> lockout_key(const net::auth_event& e);

// Policies by key_kind.
using rate_policies = std::array<rate_policy, key_kind_count>;

struct lockout_change {
  limit_key key;
  bool started = false;        // false: ended
  int64_t until_ms = 0;
};

class limiter_table {
 public:
  limiter_table(rate_policies policies, size_t max_keys) : policies_(policies), max_keys_(max_keys) {}

  // Asks for one attempt of each of `keys` (the keys of one login that this
  // table owns) at `now`; out[i] answers keys[i]. Keys the table does not
  // hold are added, all or none: when there is no room for them without
  // evicting a protected key or another key of the same login, every answer
  // is failed + full, nothing is added and no bucket is charged.
  void check(const std::vector<limit_key>& keys, int64_t now, std::vector<lockout_change>& changes,
             std::vector<decision>& out);
  decision check(const limit_key& key, int64_t now, std::vector<lockout_change>& changes);
  void record(const limit_key& key, bool success, int64_t now, std::vector<lockout_change>& changes);

  // Visits up to `budget` keys of each list, least recently seen first: drops
  // the idle ones, moves those no longer protected to the unprotected list
  // and reports lockouts that ended. Returns keys dropped.
  size_t sweep(int64_t now, size_t budget, std::vector<lockout_change>& changes);

  // Recovery and replication: `key` is locked out until `until_ms` (as the
  // log or the key's owner says), with `lockouts` in a row for the backoff.
  // Reported as started already, so its end is published once, as it would
  // have been. Never refused: a lockout is kept even beyond max_keys.
  // `changes`: ended lockouts of keys evicted to make room.
  void restore_lockout(const limit_key& key, int64_t until_ms, uint32_t lockouts, int64_t now,
                       std::vector<lockout_change>& changes);

  // Every lockout in force at `now`: fn(key, until_ms). For hand-over.
  template <class Fn>
  void for_each_lockout(int64_t now, Fn&& fn) const {
    for (auto& [k, e] : entries_)
      if (e.state.locked_until_ms > now)
        fn(limit_key{e.kind, k.substr(2)}, e.state.locked_until_ms);
  }

  void set_policies(const rate_policies& p) { policies_ = p; }
  size_t size() const { return entries_.size(); }
  // Keys on the protected list (some may have lapsed since the last sweep).
  size_t protected_keys() const { return guarded_.size(); }
  uint64_t evicted() const { return evicted_; }            // evicted to make room
  uint64_t evicted_busy() const { return evicted_busy_; }  // of which with a bucket not refilled
  uint64_t refused_full() const { return refused_full_; }  // new keys refused: all protected
  uint64_t overflow() const { return overflow_; }          // kept beyond max_keys

 private:
  using lru_list = std::list<std::string>;  // front = most recently seen
  struct entry {
    key_state state;
    lru_list::iterator lru;
    key_kind kind;
    bool lock_reported = false;  // lockout_started emitted, lockout_ended not yet
    bool guarded = false;        // on guarded_ (protected when last filed)
  };
  using entry_map = std::unordered_map<std::string, entry>;

  static std::string map_key(const limit_key& key);
  const rate_policy& policy_of(const entry& e) const {
    return policies_[static_cast<size_t>(e.kind)];
  }
  entry* find(const std::string& k);
  entry& insert(const std::string& k, key_kind kind);
  entry& keep(const limit_key& key, const std::string& k, int64_t now,
              std::vector<lockout_change>& changes);
  bool make_room(size_t n, size_t own_plain, int64_t now, std::vector<lockout_change>& changes);
  bool evict_lapsed(int64_t now, std::vector<lockout_change>& changes);
  void evict(entry_map::iterator it, int64_t now, std::vector<lockout_change>& changes);
  void file(entry& e, int64_t now);
  size_t sweep_list(bool guarded, int64_t now, size_t budget,
                    std::vector<lockout_change>& changes);
  void note_lock_end(const std::string& k, entry& e, int64_t now,
                     std::vector<lockout_change>& changes);

  rate_policies policies_;
  size_t max_keys_;
  entry_map entries_;
  lru_list plain_;    // keys an eviction may take
  lru_list guarded_;  // protected keys: never evicted while protected
  std::vector<std::string> scratch_names_;  // check()'s, kept between calls
  std::vector<entry*> scratch_held_;
  uint64_t evicted_ = 0;
  uint64_t evicted_busy_ = 0;
  uint64_t refused_full_ = 0;
  uint64_t overflow_ = 0;
};

}  // namespace castellan::actors
