// Session bookkeeping for one shard; see session_table.hpp.
#include "actors/sessions/session_table.hpp"

#include <algorithm>
#include <stdexcept>

namespace castellan::actors {

void session_table::index_expiry(const net::session_key& key, int64_t expires_ms) {
  expiry_bucket(expires_ms).push_back(key);
}

std::vector<net::session_key>& session_table::expiry_bucket(int64_t expires_ms) {
  return expiry_index_[(expires_ms + 999) / 1000];
}

int64_t session_table::refreshed_expiry(const session& s, int64_t now_ms) const {
  int64_t cap = s.created_ms + int64_t{cfg_.max_lifetime_s} * 1000;
  return std::max(s.expires_ms, std::min(now_ms + int64_t{cfg_.ttl_s} * 1000, cap));
}

void session_table::know(const user_ref& user) {
  if (!user || user->id == 0)
    throw std::invalid_argument("session_table: a session's user must be numbered (user_record::id)");
  if (user->id >= users_by_id_.size())
    users_by_id_.resize(user->id + 1);
  if (!users_by_id_[user->id])
    users_by_id_[user->id] = user;
}

std::vector<user_ref> session_table::by_number(const std::shared_ptr<const config::users_table>& users) {
  std::vector<user_ref> by_id;
  for (auto& [name, record] : users->by_name) {
    if (record.id == 0 || !record.enabled)
      continue;
    if (record.id >= by_id.size())
      by_id.resize(record.id + 1);
    by_id[record.id] = user_ref(users, &record);  // aliasing: keeps the snapshot alive
  }
  return by_id;
}

void session_table::restored_with(std::shared_ptr<const config::users_table> users) {
  users_by_id_ = by_number(users);
  applied_ = std::move(users);
}

void session_table::restore(const net::session_key& key, user_ref user, int64_t created_ms,
                            int64_t expires_ms) {
  know(user);  // only learns a number: harmless if what follows throws
  auto& due = expiry_bucket(expires_ms);
  if (due.size() == due.capacity())  // room for one more, so nothing throws once the index
    due.reserve(std::max<size_t>(16, 2 * due.capacity()));  // holds it; doubling, never +1
  index_.put(key, indexed_session{user->id, created_ms, expires_ms});  // throws before changing
  due.push_back(key);
  counted();
}

std::optional<int64_t> session_table::extend(const net::session_key& key, int64_t expires_ms) {
  auto held = index_.get(key);
  if (!held)
    return std::nullopt;
  // The expiry index entry is left where it is; sweep moves it when it comes due.
  if (expires_ms > held->expires_ms) {
    index_.set_expiry(key, expires_ms);
    return expires_ms;
  }
  return held->expires_ms;
}

lookup_result session_table::validate(const net::session_key& key, int64_t now_ms) const {
  auto held = index_.get(key);
  if (!held)
    return {lookup_status::unknown, std::nullopt};
  auto s = session_of(*held);
  if (!s.user)  // a user no snapshot names: apply_users drops such sessions
    return {lookup_status::unknown, std::nullopt};
  return {held->expires_ms <= now_ms ? lookup_status::expired : lookup_status::ok, std::move(s)};
}

bool session_table::logout(const net::session_key& key, bool tombstone) {
  auto held = index_.get(key);
  if (!held)
    return false;
  if (tombstone) {
    ended_[key] = held->expires_ms;
    index_expiry(key, held->expires_ms);
  }
  index_.erase(key);
  counted();
  return true;
}

bool session_table::merge_live(const net::session_key& key, user_ref user, int64_t created_ms,
                               int64_t expires_ms) {
  if (ended_.count(key))
    return false;
  if (auto held = index_.get(key)) {
    if (held->expires_ms >= expires_ms)
      return false;
    index_.set_expiry(key, expires_ms);  // the expiry entry moves when it comes due
    return true;
  }
  restore(key, std::move(user), created_ms, expires_ms);
  return true;
}

bool session_table::merge_end(const net::session_key& key, int64_t until_ms) {
  if (ended_.count(key))
    return false;
  if (auto held = index_.get(key)) {
    until_ms = std::max(until_ms, held->expires_ms);
    index_.erase(key);
    counted();
  }
  ended_[key] = until_ms;
  index_expiry(key, until_ms);
  return true;
}

void session_table::forget(const net::session_key& key) {
  index_.erase(key);
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
      auto held = index_.get(key);
      if (!held)
        continue;  // ended or forgotten
      if (held->expires_ms <= now_ms) {
        auto s = session_of(*held);
        if (expired && s.user)
          expired->push_back({key, s.user->name});
        index_.erase(key);
        ++erased;
      } else {
        index_expiry(key, held->expires_ms);  // refreshed since: due later
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
  // Everything that may throw comes first, so a failure changes nothing
  // (the shard restarts and applies the snapshot again).
  auto by_id = by_number(users);  // a name keeps its number across snapshots (user_numbers)
  std::vector<net::session_key> gone;  // users the snapshot lacks or has disabled
  index_.for_each([&](const net::session_key& key, const indexed_session& s) {
    if (s.user >= by_id.size() || !by_id[s.user])
      gone.push_back(key);
  });
  users_by_id_ = std::move(by_id);
  applied_ = users;
  for (auto& key : gone)
    index_.erase(key);  // throws nothing
  counted();
  return gone.size();
}

}  // namespace castellan::actors
