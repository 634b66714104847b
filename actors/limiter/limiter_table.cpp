// Bounded key table of one limiter shard; see limiter_table.hpp.
#include "actors/limiter/limiter_table.hpp"

#include <algorithm>

namespace castellan::actors {

const char* to_string(key_kind kind) {
  switch (kind) {
    case key_kind::user: return "user";
    case key_kind::ip: return "ip";
    case key_kind::user_ip: return "user_ip";
  }
  return "user";
}

std::string limiter_table::map_key(const limit_key& key) {
  std::string k;
  k.reserve(key.value.size() + 2);
  k.push_back(static_cast<char>('0' + static_cast<int>(key.kind)));
  k.push_back(':');
  k += key.value;
  return k;
}

limiter_table::entry& limiter_table::touch(const limit_key& key) {
  auto k = map_key(key);
  auto it = entries_.find(k);
  if (it != entries_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return it->second;
  }
  if (entries_.size() >= max_keys_ && !lru_.empty()) {
    auto victim = entries_.find(lru_.back());
    auto now = victim->second.state.last_seen_ms;
    if (!is_idle(policies_[static_cast<size_t>(victim->second.kind)], victim->second.state, now))
      ++evicted_busy_;
    entries_.erase(victim);
    lru_.pop_back();
  }
  lru_.push_front(k);
  auto& e = entries_[k];
  e.lru = lru_.begin();
  e.kind = key.kind;
  return e;
}

void limiter_table::note_lock_end(const std::string& k, entry& e, int64_t now,
                                  std::vector<lockout_change>& changes) {
  if (e.lock_reported && e.state.locked_until_ms <= now) {
    e.lock_reported = false;
    changes.push_back({{e.kind, k.substr(2)}, false, e.state.locked_until_ms});
  }
}

decision limiter_table::check(const limit_key& key, int64_t now,
                              std::vector<lockout_change>& changes) {
  auto& e = touch(key);
  note_lock_end(map_key(key), e, now, changes);
  return actors::check(policies_[static_cast<size_t>(key.kind)], e.state, now);
}

void limiter_table::record(const limit_key& key, bool success, int64_t now,
                           std::vector<lockout_change>& changes) {
  auto& e = touch(key);
  const auto& policy = policies_[static_cast<size_t>(key.kind)];
  if (success)
    refund(policy, e.state, now);
  if (record_outcome(policy, e.state, success, now) == outcome_effect::lockout_started) {
    e.lock_reported = true;
    changes.push_back({key, true, e.state.locked_until_ms});
  }
}

size_t limiter_table::sweep(int64_t now, size_t budget, std::vector<lockout_change>& changes) {
  // Oldest first: idle keys collect at the back of the LRU list. Visiting at
  // most `budget` keys keeps one sweep short however large the table is.
  size_t dropped = 0;
  auto pos = lru_.end();
  for (size_t visited = 0; visited < budget && pos != lru_.begin(); ++visited) {
    --pos;
    auto it = entries_.find(*pos);
    note_lock_end(it->first, it->second, now, changes);
    if (is_idle(policies_[static_cast<size_t>(it->second.kind)], it->second.state, now)) {
      pos = lru_.erase(pos);
      entries_.erase(it);
      ++dropped;
    }
  }
  return dropped;
}

std::optional<limit_key> lockout_key(const net::auth_event& e) {
  auto kind = e.type();
  if (kind != net::event_kind::lockout_started && kind != net::event_kind::lockout_ended)
    return std::nullopt;
  if (e.reason == "user")
    return limit_key{key_kind::user, e.user};
  if (e.reason == "ip")
    return limit_key{key_kind::ip, e.ip};
  if (e.reason == "user_ip")
    return limit_key{key_kind::user_ip, e.user + "|" + e.ip};
  return std::nullopt;
}

void limiter_table::restore_lockout(const limit_key& key, int64_t until_ms, uint32_t lockouts) {
  auto& e = touch(key);
  e.state.locked_until_ms = until_ms;
  e.state.lockouts = std::max(e.state.lockouts, lockouts);
  e.state.failures = 0;
  e.lock_reported = true;
}

}  // namespace castellan::actors
