// The rate-limit keys one limiter shard owns, bounded in memory.
//
// Eviction policy (docs/rate-limiting.md):
//   1. sweeps drop idle keys (bucket refilled, no failures, no lockout and no
//      backoff still remembered: they carry no information), visiting a
//      bounded number of keys per sweep, least recently seen first;
//   2. at max_keys, the least recently seen key is evicted to make room, idle
//      or not. A flood of new keys can therefore push out a remembered
//      backoff, but never make the table grow; counted in `evicted_busy`.
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

  decision check(const limit_key& key, int64_t now, std::vector<lockout_change>& changes);
  void record(const limit_key& key, bool success, int64_t now, std::vector<lockout_change>& changes);

  // Visits up to `budget` keys, least recently seen first: drops the idle
  // ones and reports lockouts that ended. Returns keys dropped.
  size_t sweep(int64_t now, size_t budget, std::vector<lockout_change>& changes);

  // Recovery: `key` is locked out until `until_ms` (as the log says), with
  // `lockouts` in a row for the backoff. Reported as started already, so
  // its end is published once, as it would have been.
  void restore_lockout(const limit_key& key, int64_t until_ms, uint32_t lockouts);

  // Every lockout in force at `now`: fn(key, until_ms). For hand-over.
  template <class Fn>
  void for_each_lockout(int64_t now, Fn&& fn) const {
    for (auto& [k, e] : entries_)
      if (e.state.locked_until_ms > now)
        fn(limit_key{e.kind, k.substr(2)}, e.state.locked_until_ms);
  }

  void set_policies(const rate_policies& p) { policies_ = p; }
  size_t size() const { return entries_.size(); }
  uint64_t evicted_busy() const { return evicted_busy_; }

 private:
  struct entry {
    key_state state;
    std::list<std::string>::iterator lru;
    key_kind kind;
    bool lock_reported = false;  // lockout_started emitted, lockout_ended not yet
  };
  static std::string map_key(const limit_key& key);
  entry& touch(const limit_key& key);
  void note_lock_end(const std::string& k, entry& e, int64_t now,
                     std::vector<lockout_change>& changes);

  rate_policies policies_;
  size_t max_keys_;
  std::unordered_map<std::string, entry> entries_;
  std::list<std::string> lru_;  // front = most recently seen
  uint64_t evicted_busy_ = 0;
};

}  // namespace castellan::actors
