// Sessions and lockouts as the durable log says they are: a projection of
// the audit log (event sourcing). Recovery builds one from the newest valid
// snapshot plus the records after it, then hands it to the shards' tables
// and the limiter's; the snapshotter builds one the same way and writes it
// back as the next snapshot. One fold, used by both, so a snapshot can only
// ever say what a replay would. CAF-free; docs/operations.md, "Recovery".
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "actors/storage/session_snapshot.hpp"
#include "net/events.hpp"

namespace castellan::actors {

class session_projection {
 public:
  struct session_state {
    uint32_t user = 0;  // index into users()
    int64_t created_ms = 0;
    int64_t expires_ms = 0;
  };
  struct lockout_state {
    int64_t until_ms = 0;
    uint32_t level = 1;
  };
  using lockout_id = std::tuple<uint8_t, std::string, std::string>;  // kind, user, ip

  // Starts from a snapshot (or empty, at position 1: the first record).
  session_projection() = default;
  explicit session_projection(snapshot_image image);

  // Folds in record `index`; records before position() are ignored, so a
  // replay may start anywhere before it.
  void apply(uint64_t index, const net::auth_event& e);

  // The first record not yet folded in.
  uint64_t position() const { return position_; }

  // What is still in force at `now_ms` (expired sessions and ended lockouts
  // dropped), ready to be written.
  snapshot_image image(int64_t now_ms) const;

  struct key_hash {
    size_t operator()(const session_key& k) const {
      uint64_t h;
      std::memcpy(&h, k.data(), sizeof h);  // keys are MAC tags: any 8 bytes hash well
      return static_cast<size_t>(h);
    }
  };
  const std::unordered_map<session_key, session_state, key_hash>& sessions() const { return sessions_; }
  const std::map<lockout_id, lockout_state>& lockouts() const { return lockouts_; }
  // Sessions ended by a logout or revoke, with when each would have expired:
  // until then a stale live copy must not bring one back (session_table's
  // tombstones, restored across restarts).
  const std::unordered_map<session_key, int64_t, key_hash>& tombstones() const { return ended_; }
  const std::vector<std::string>& users() const { return users_; }

 private:
  uint32_t user_index(const std::string& name);
  void end_session(const session_key& key, int64_t until_ms);
  void end_sessions_of(const std::string& user);

  uint64_t position_ = 1;
  std::vector<std::string> users_;
  std::unordered_map<std::string, uint32_t> user_ids_;
  std::unordered_map<session_key, session_state, key_hash> sessions_;
  std::map<lockout_id, lockout_state> lockouts_;
  std::unordered_map<session_key, int64_t, key_hash> ended_;
};

struct replay_report {
  std::string snapshot_file;              // empty: no valid snapshot, full replay
  uint64_t snapshot_position = 1;         // the log position it covers
  std::vector<snapshot_damage> damaged;   // snapshots skipped, newest first
  uint64_t snapshot_sessions = 0;
  uint64_t records_replayed = 0;
  uint64_t undecodable = 0;               // records whose body is not an event (skipped)
  std::vector<std::string> log_problems;  // damaged records the replay had to skip over
};

// The newest valid snapshot in `snapshot_dir`, then every record of the
// audit log in `audit_dir` from its position to `until_index` (exclusive; 0:
// to the end). Never throws for damaged data: it is reported.
session_projection replay(const std::string& snapshot_dir, const std::string& audit_dir,
                          uint64_t until_index, replay_report& report);

}  // namespace castellan::actors
