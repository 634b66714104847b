// The sessions one shard owns, as a plain data structure with an explicit
// clock argument: the shard actor wraps it, tests drive it directly. The
// sessions live in one place, the flat session_index that I/O threads read
// too (no allocation per session); a session names its user by number
// (user_record::id), which the table turns back into the record it was
// given. Expired sessions are found through an index of one-second expiry
// buckets, so a sweep touches only what is due, never a timer per session.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "actors/sessions/session_index.hpp"
#include "actors/sessions/session_messages.hpp"
#include "actors/sessions/write_inbox.hpp"
#include "config/config.hpp"

namespace castellan::actors {

// A session as the table hands it out (a copy: the index holds the data).
struct session {
  user_ref user;
  int64_t created_ms = 0;
  int64_t expires_ms = 0;  // sliding: min(last refresh + ttl, created + max_lifetime)
};

enum class lookup_status { ok, unknown, expired };

struct lookup_result {
  lookup_status status = lookup_status::unknown;
  std::optional<session> found;  // with ok and expired
};

class session_table {
 public:
  // `epochs`: the threads that read index() (none when not given).
  explicit session_table(const config::sessions_config& cfg,
                         std::shared_ptr<reader_epochs> epochs = std::make_shared<reader_epochs>(0))
      : cfg_(cfg), index_(std::move(epochs)) {}

  // -- what a write would do, without doing it -------------------------------
  // Writes reach the table only once their records are durable (the shard
  // applies them from inbox(); docs/architecture.md, "The log first").

  // The expiry of a session opened at `now_ms`.
  int64_t new_expiry(int64_t now_ms) const { return now_ms + int64_t{cfg_.ttl_s} * 1000; }
  // The expiry `s` would have after a refresh at `now_ms`: sliding, capped
  // by the max lifetime, never earlier than it is.
  int64_t refreshed_expiry(const session& s, int64_t now_ms) const;

  // -- applying what the log says --------------------------------------------

  // Puts a session in as the log describes it (a login, recovery, a replica).
  // `user` must point into the users snapshot the shard applied, and be
  // numbered (user_record::id; std::invalid_argument otherwise).
  void restore(const net::session_key& key, user_ref user, int64_t created_ms, int64_t expires_ms);
  void reserve(size_t sessions) { index_.reserve(sessions); }
  void restored_with(std::shared_ptr<const config::users_table> users);

  // A durable refresh: the session's expiry becomes at least `expires_ms`.
  // Its expiry now; nothing if the session is not held (ended meanwhile).
  std::optional<int64_t> extend(const net::session_key& key, int64_t expires_ms);

  // The session, or why not. An expired session stays (answering `expired`)
  // until sweep() removes it and it is recorded as session_expired.
  lookup_result validate(const net::session_key& key, int64_t now_ms) const;

  // Ends the session; false if it did not exist. With `tombstone` (the
  // session was ended, not merely forgotten), the key is remembered as ended
  // until the session would have expired, so a late copy from another node
  // cannot bring it back.
  bool logout(const net::session_key& key, bool tombstone = true);

  // -- replication (cluster): merges that commute, so copies converge ------
  // Live state merges by the later expiry; an end beats any live state.

  // A session as another node holds it; false if nothing changed (ended
  // here, or already known with this expiry or a later one).
  bool merge_live(const net::session_key& key, user_ref user, int64_t created_ms,
                  int64_t expires_ms);
  // A session another node ended (`until_ms`: when its tombstone may go);
  // false if it was already ended here.
  bool merge_end(const net::session_key& key, int64_t until_ms);
  // Forgets a session and its tombstone without ending it (its range moved
  // to other nodes); no event.
  void forget(const net::session_key& key);
  bool ended(const net::session_key& key) const { return ended_.count(key) > 0; }

  // Every live session and every tombstone, for hand-over to other nodes.
  // Neither may change the table (collect keys, change afterwards).
  template <class LiveFn, class EndedFn>
  void for_each(LiveFn&& live, EndedFn&& gone) const {
    index_.for_each([&](const net::session_key& key, const indexed_session& s) {
      if (auto v = session_of(s); v.user)  // a user no snapshot names: apply_users drops it
        live(key, v);
    });
    for (auto& [key, until] : ended_)
      gone(key, until);
  }
  size_t tombstones() const { return ended_.size(); }

  // Erases sessions whose expiry has passed; returns how many. With `expired`,
  // also reports which (for session_expired events).
  struct expired_session {
    net::session_key key;
    std::string user;
  };
  size_t sweep(int64_t now_ms, std::vector<expired_session>* expired = nullptr);

  // Re-points sessions at the new snapshot's users; erases sessions of users
  // that are gone or disabled. Returns how many were erased.
  size_t apply_users(const std::shared_ptr<const config::users_table>& users);

  size_t size() const { return index_.size(); }
  // Logins recorded, not yet applied, count against a shard's capacity. The
  // count lives here, not in the shard, so a restarted shard still knows
  // the logins its predecessor left in flight.
  void opening() { ++opening_; }
  void opened_or_dropped() { --opening_; }
  size_t size_with_opening() const { return index_.size() + opening_; }
  // Sessions held, readable from any thread (metrics sum it over the shards).
  uint64_t held() const { return held_.load(std::memory_order_relaxed); }

  // The live sessions as other threads may read them without a lock: a
  // validate answered by the I/O thread that read it (session_router). It
  // changes with the table, on the shard's thread, before any reply that
  // follows from the change leaves; a session's user is its user_record::id.
  const session_index& index() const { return index_; }

  // Writes settled by the audit writer, waiting for the shard to apply them.
  // The only part of the table other threads touch; it outlives the shard too.
  write_inbox& inbox() { return inbox_; }

  // Entries in the expiry index (tests: it must stay bounded by size()).
  size_t indexed() const {
    size_t n = 0;
    for (auto& [second, keys] : expiry_index_)
      n += keys.size();
    return n;
  }

 private:
  // The record a session's user number stands for.
  session session_of(const indexed_session& s) const {
    return {s.user < users_by_id_.size() ? users_by_id_[s.user] : nullptr, s.created_ms, s.expires_ms};
  }
  // Learns the record behind `user`'s number, unless a snapshot applied
  // already named one (apply_users alone replaces them).
  void know(const user_ref& user);
  static std::vector<user_ref> by_number(const std::shared_ptr<const config::users_table>& users);
  std::vector<net::session_key>& expiry_bucket(int64_t expires_ms);
  struct key_hash {
    size_t operator()(const net::session_key& key) const {
      uint64_t h;  // ids are random and MAC-protected: any 8 bytes are a fine hash
      std::memcpy(&h, key.data(), sizeof h);
      return static_cast<size_t>(h);
    }
  };
  void index_expiry(const net::session_key& key, int64_t expires_ms);
  // Every mutator ends with it: the count metrics read is never adjusted by hand.
  void counted() { held_.store(index_.size(), std::memory_order_relaxed); }

  config::sessions_config cfg_;
  std::shared_ptr<const config::users_table> applied_;  // the users every session points into
  std::vector<user_ref> users_by_id_;  // user_record::id -> its record (null: none known)
  // Expiry second -> sessions due then. Every live session has exactly one
  // entry, at or before its real expiry: refresh does not touch the index;
  // sweep re-files a session whose expiry moved. So the index never holds
  // more entries than sessions created within one TTL.
  std::map<int64_t, std::vector<net::session_key>> expiry_index_;
  // Ended sessions -> when they would have expired. Swept with the sessions.
  std::unordered_map<net::session_key, int64_t, key_hash> ended_;
  session_index index_;
  size_t opening_ = 0;
  std::atomic<uint64_t> held_{0};
  write_inbox inbox_;
};

}  // namespace castellan::actors
