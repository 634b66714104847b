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

namespace {

// How many of the oldest protected keys an insert looks at for one whose
// protection lapsed since the last sweep: a constant, so an insert into a
// table full of protected keys stays O(1).
constexpr int lapsed_probe = 4;

}  // namespace

limiter_table::entry* limiter_table::find(const std::string& k) {
  auto it = entries_.find(k);
  return it == entries_.end() ? nullptr : &it->second;
}

// Makes room for `n` new keys (back to max_keys if the table is over it) by
// evicting unprotected keys, least recently seen first, but never the
// `own_plain` keys at the front of plain_ (the other keys of the same
// login). False when that is not possible: the rest is protected.
bool limiter_table::make_room(size_t n, size_t own_plain, int64_t now,
                              std::vector<lockout_change>& changes) {
  while (entries_.size() + n > max_keys_) {
    if (plain_.size() > own_plain)
      evict(entries_.find(plain_.back()), now, changes);
    else if (!evict_lapsed(now, changes))
      return false;
  }
  return true;
}

// Protection ends with time, not only when a key is used: one of the oldest
// protected keys may have lapsed since the last sweep moved it.
bool limiter_table::evict_lapsed(int64_t now, std::vector<lockout_change>& changes) {
  auto pos = guarded_.end();
  for (int i = 0; i < lapsed_probe && pos != guarded_.begin(); ++i) {
    auto it = entries_.find(*--pos);
    if (!is_protected(policy_of(it->second), it->second.state, now)) {
      evict(it, now, changes);
      return true;
    }
  }
  return false;
}

limiter_table::entry& limiter_table::insert(const std::string& k, key_kind kind) {
  plain_.push_front(k);
  auto& e = entries_[k];
  e.lru = plain_.begin();
  e.kind = kind;
  return e;
}

// A key to remember whatever the room: a failure or a lockout is kept even
// beyond max_keys (counted in overflow) rather than lost or evicting one.
limiter_table::entry& limiter_table::keep(const limit_key& key, const std::string& k, int64_t now,
                                          std::vector<lockout_change>& changes) {
  if (auto* e = find(k))
    return *e;
  if (!make_room(1, 0, now, changes))
    ++overflow_;
  return insert(k, key.kind);
}

void limiter_table::evict(entry_map::iterator it, int64_t now,
                          std::vector<lockout_change>& changes) {
  auto& e = it->second;
  note_lock_end(it->first, e, now, changes);  // an ended lockout is still reported
  ++evicted_;
  if (!is_idle(policy_of(e), e.state, now))
    ++evicted_busy_;
  (e.guarded ? guarded_ : plain_).erase(e.lru);
  entries_.erase(it);
}

// Puts a key just used at the front of the list its state now belongs on.
void limiter_table::file(entry& e, int64_t now) {
  bool guard = is_protected(policy_of(e), e.state, now);
  auto& to = guard ? guarded_ : plain_;
  to.splice(to.begin(), e.guarded ? guarded_ : plain_, e.lru);
  e.guarded = guard;
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
  std::vector<decision> out;
  check({key}, now, changes, out);
  return out.front();
}

void limiter_table::check(const std::vector<limit_key>& keys, int64_t now,
                          std::vector<lockout_change>& changes, std::vector<decision>& out) {
  auto& names = scratch_names_;  // reused: no allocation per check
  auto& held = scratch_held_;
  names.clear();
  held.clear();
  size_t own_plain = 0;
  for (auto& key : keys) {
    names.push_back(map_key(key));
    held.push_back(find(names.back()));
    if (held.back()) {
      file(*held.back(), now);  // to the front: the room made below is never theirs
      own_plain += !held.back()->guarded;
    }
  }
  size_t fresh = static_cast<size_t>(std::count(held.begin(), held.end(), nullptr));
  if (fresh && !make_room(fresh, own_plain, now, changes)) {
    // Fail closed: a key the limiter cannot remember cannot be limited.
    ++refused_full_;
    decision refused;
    refused.allowed = false;
    refused.failed = true;
    refused.full = true;
    out.assign(keys.size(), refused);
    return;
  }
  out.clear();
  for (size_t i = 0; i < keys.size(); ++i) {
    auto& e = held[i] ? *held[i] : insert(names[i], keys[i].kind);
    note_lock_end(names[i], e, now, changes);
    out.push_back(actors::check(policy_of(e), e.state, now));
    file(e, now);
  }
}

void limiter_table::record(const limit_key& key, bool success, int64_t now,
                           std::vector<lockout_change>& changes) {
  auto k = map_key(key);
  if (success && !find(k))
    return;  // a success on a key already forgotten has nothing to teach
  auto& e = keep(key, k, now, changes);
  const auto& policy = policy_of(e);
  if (success)
    refund(policy, e.state, now);
  if (record_outcome(policy, e.state, success, now) == outcome_effect::lockout_started) {
    e.lock_reported = true;
    changes.push_back({key, true, e.state.locked_until_ms});
  }
  file(e, now);
}

size_t limiter_table::sweep(int64_t now, size_t budget, std::vector<lockout_change>& changes) {
  return sweep_list(true, now, budget, changes) + sweep_list(false, now, budget, changes);
}

// Oldest first: idle keys collect at the back of a list. Visiting at most
// `budget` keys keeps one sweep short however large the table is. A
// protected key whose protection lapsed goes to the back of the unprotected
// list: it was not seen since, so it is among the oldest.
size_t limiter_table::sweep_list(bool guarded, int64_t now, size_t budget,
                                 std::vector<lockout_change>& changes) {
  auto& list = guarded ? guarded_ : plain_;
  size_t dropped = 0;
  auto pos = list.end();
  for (size_t visited = 0; visited < budget && pos != list.begin(); ++visited) {
    auto it = entries_.find(*--pos);
    auto& e = it->second;
    note_lock_end(it->first, e, now, changes);
    if (is_idle(policy_of(e), e.state, now)) {
      pos = list.erase(pos);
      entries_.erase(it);
      ++dropped;
    } else if (guarded && !is_protected(policy_of(e), e.state, now)) {
      auto next = std::next(pos);
      plain_.splice(plain_.end(), guarded_, pos);
      e.guarded = false;
      pos = next;
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

void limiter_table::restore_lockout(const limit_key& key, int64_t until_ms, uint32_t lockouts,
                                    int64_t now, std::vector<lockout_change>& changes) {
  auto& e = keep(key, map_key(key), now, changes);
  e.state.locked_until_ms = until_ms;
  e.state.lockouts = std::max(e.state.lockouts, lockouts);
  e.state.failures = 0;
  e.lock_reported = true;
  file(e, now);
}

}  // namespace castellan::actors
