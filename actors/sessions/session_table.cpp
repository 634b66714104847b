// Session bookkeeping for one shard; see session_table.hpp.
#include "actors/sessions/session_table.hpp"

#include <algorithm>

namespace castellan::actors {

void session_table::index_expiry(const net::session_key& key, int64_t expires_ms) {
  int64_t bucket = (expires_ms + 999) / 1000;
  expiry_index_[bucket].push_back(key);
}

int64_t session_table::refreshed_expiry(const session& s, int64_t now_ms) const {
  int64_t cap = s.created_ms + int64_t{cfg_.max_lifetime_s} * 1000;
  return std::max(s.expires_ms, std::min(now_ms + int64_t{cfg_.ttl_s} * 1000, cap));
}

void session_table::erase(std::unordered_map<net::session_key, session, key_hash>::iterator it) {
  index_.erase(it->first);
  sessions_.erase(it);
}

void session_table::restore(const net::session_key& key, user_ref user, int64_t created_ms,
                            int64_t expires_ms) {
  session s;
  s.user = std::move(user);
  s.created_ms = created_ms;
  s.expires_ms = expires_ms;
  bool held = sessions_.count(key) > 0;
  index_.put(key, indexed_session{s.user->id, created_ms, expires_ms});  // throws before changing
  try {
    sessions_.insert_or_assign(key, std::move(s));
  } catch (...) {  // no memory for the map: the index lets go of what it took
    if (!held)
      index_.erase(key);
    throw;
  }
  index_expiry(key, expires_ms);
  counted();
}

const session* session_table::extend(const net::session_key& key, int64_t expires_ms) {
  auto it = sessions_.find(key);
  if (it == sessions_.end())
    return nullptr;
  // The index entry is left where it is; sweep moves it when it comes due.
  if (expires_ms > it->second.expires_ms) {
    it->second.expires_ms = expires_ms;
    index_.set_expiry(key, expires_ms);
  }
  return &it->second;
}

lookup_result session_table::validate(const net::session_key& key, int64_t now_ms) const {
  auto it = sessions_.find(key);
  if (it == sessions_.end())
    return {lookup_status::unknown, nullptr};
  if (it->second.expires_ms <= now_ms)
    return {lookup_status::expired, &it->second};
  return {lookup_status::ok, &it->second};
}

bool session_table::logout(const net::session_key& key, bool tombstone) {
  auto it = sessions_.find(key);
  if (it == sessions_.end())
    return false;
  if (tombstone) {
    ended_[key] = it->second.expires_ms;
    index_expiry(key, it->second.expires_ms);
  }
  erase(it);
  counted();
  return true;
}

bool session_table::merge_live(const net::session_key& key, user_ref user, int64_t created_ms,
                               int64_t expires_ms) {
  if (ended_.count(key))
    return false;
  auto it = sessions_.find(key);
  if (it != sessions_.end()) {
    if (it->second.expires_ms >= expires_ms)
      return false;
    it->second.expires_ms = expires_ms;  // the expiry entry moves when it comes due
    index_.set_expiry(key, expires_ms);
    return true;
  }
  restore(key, std::move(user), created_ms, expires_ms);
  return true;
}

bool session_table::merge_end(const net::session_key& key, int64_t until_ms) {
  if (ended_.count(key))
    return false;
  auto it = sessions_.find(key);
  if (it != sessions_.end()) {
    until_ms = std::max(until_ms, it->second.expires_ms);
    erase(it);
    counted();
  }
  ended_[key] = until_ms;
  index_expiry(key, until_ms);
  return true;
}

void session_table::forget(const net::session_key& key) {
  if (auto it = sessions_.find(key); it != sessions_.end())
    erase(it);
  ended_.erase(key);
  counted();
}

size_t session_table::sweep(int64_t now_ms, std::vector<expired_session>* expired) {
  size_t erased = 0;
  while (!expiry_index_.empty() && expiry_index_.begin()->first * 1000 <= now_ms) {
    auto due = std::move(expiry_index_.begin()->second);
    expiry_index_.erase(expiry_index_.begin());
    for (auto& key : due) {
      if (auto t = ended_.find(key); t != ended_.end() && t->second <= now_ms)
        ended_.erase(t);  // nothing could bring it back now: it would be expired
      auto it = sessions_.find(key);
      if (it == sessions_.end())
        continue;  // ended or forgotten
      if (it->second.expires_ms <= now_ms) {
        if (expired)
          expired->push_back({key, it->second.user->name});
        erase(it);
        ++erased;
      } else {
        index_expiry(key, it->second.expires_ms);  // refreshed since: due later
      }
    }
  }
  index_.reclaim();  // arrays replaced since the last sweep, once no reader holds them
  counted();
  return erased;
}

size_t session_table::apply_users(const std::shared_ptr<const config::users_table>& users) {
  // A restarted shard re-applies the snapshot it was given; after recovery
  // that is the one every session already points into (1 M lookups saved).
  if (users == applied_)
    return 0;
  applied_ = users;
  size_t erased = 0;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    const auto* record = users->find(it->second.user->name);
    if (!record || !record->enabled) {
      index_.erase(it->first);
      it = sessions_.erase(it);
      ++erased;
      continue;
    }
    it->second.user = user_ref(users, record);  // aliasing: keeps the snapshot alive
    ++it;
  }
  counted();
  return erased;
}

}  // namespace castellan::actors
