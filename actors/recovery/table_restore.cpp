// restore_tables; see table_restore.hpp.
#include "actors/recovery/table_restore.hpp"

#include <algorithm>
#include <atomic>
#include <thread>

#include "actors/limiter/limiter_shard.hpp"
#include "actors/limiter/limiter_table.hpp"
#include "actors/sessions/session_shard.hpp"
#include "actors/sessions/session_table.hpp"

namespace castellan::actors {
namespace {

using entry = std::pair<const net::session_key*, const session_projection::session_state*>;
using tombstone = std::pair<const net::session_key*, int64_t>;

size_t fill(session_table& table, const std::vector<entry>& entries,
            const std::vector<tombstone>& ended, const session_projection& projection,
            const std::shared_ptr<const config::users_table>& users) {
  table.reserve(entries.size());
  table.restored_with(users);
  for (auto [key, until] : ended)
    table.merge_end(*key, until);
  size_t n = 0;
  for (auto [key, s] : entries) {
    const auto* record = users->find(projection.users()[s->user]);
    if (!record || !record->enabled)
      continue;  // removed or disabled since
    table.restore(*key, user_ref(users, record), s->created_ms, s->expires_ms);
    ++n;
  }
  return n;
}

size_t restore_sessions(const session_projection& projection,
                        const std::shared_ptr<const config::users_table>& users,
                        const std::vector<std::shared_ptr<session_table>>& tables, int64_t now_ms) {
  std::vector<std::vector<entry>> by_shard(tables.size());
  for (auto& [key, s] : projection.sessions())
    if (s.expires_ms > now_ms)
      by_shard[shard_index(key, tables.size())].push_back({&key, &s});
  std::vector<std::vector<tombstone>> ended(tables.size());
  for (auto& [key, until] : projection.tombstones())
    if (until > now_ms)
      ended[shard_index(key, tables.size())].push_back({&key, until});
  std::atomic<size_t> restored{0};
  size_t workers = std::min<size_t>(tables.size(), std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> threads;
  for (size_t w = 0; w < workers; ++w)
    threads.emplace_back([&, w] {
      for (size_t shard = w; shard < tables.size(); shard += workers)
        restored += fill(*tables[shard], by_shard[shard], ended[shard], projection, users);
    });
  for (auto& t : threads)
    t.join();
  return restored.load();
}

size_t restore_lockouts(const session_projection& projection,
                        const std::vector<std::shared_ptr<limiter_table>>& tables, int64_t now_ms) {
  size_t n = 0;
  std::vector<lockout_change> none;  // the tables start empty: nothing to evict
  for (auto& [id, l] : projection.lockouts()) {
    if (l.until_ms <= now_ms)
      continue;
    auto& [kind_code, user, ip] = id;
    auto kind = static_cast<key_kind>(kind_code);
    limit_key key{kind, kind == key_kind::user ? user : kind == key_kind::ip ? ip : user + "|" + ip};
    tables[limiter_index(key, tables.size())]->restore_lockout(key, l.until_ms, l.level, now_ms, none);
    ++n;
  }
  return n;
}

}  // namespace

restored_counts restore_tables(const session_projection& projection,
                               const std::shared_ptr<const config::users_table>& users,
                               const std::vector<std::shared_ptr<session_table>>& sessions,
                               const std::vector<std::shared_ptr<limiter_table>>& limiters,
                               int64_t now_ms) {
  return {restore_sessions(projection, users, sessions, now_ms),
          restore_lockouts(projection, limiters, now_ms)};
}

}  // namespace castellan::actors
