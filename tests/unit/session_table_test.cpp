// Session lifetime with an explicit clock: sliding TTL, the absolute cap,
// bulk sweeping, and users that are disabled or removed.
#include <map>

#include <gtest/gtest.h>

#include "actors/sessions/session_shard.hpp"
#include "actors/directory/user_numbers.hpp"
#include "actors/sessions/session_table.hpp"

namespace castellan::actors {
namespace {

config::sessions_config lifetimes() {
  config::sessions_config c;
  c.ttl_s = 10;
  c.max_lifetime_s = 25;
  return c;
}

// Users numbered as the node numbers every snapshot (user_numbers).
struct table_fixture {
  user_numbers numbers;
  std::shared_ptr<const config::users_table> users = number({{"alice", "$argon2id$x", {"trader"}, true, {}},
                                                             {"bob", "$argon2id$y", {}, true, {}}});
  std::shared_ptr<const config::users_table> number(std::vector<config::user_record> records) {
    config::users_table t;
    for (auto& r : records)
      t.by_name[r.name] = r;
    return numbers.number(std::move(t));
  }
  user_ref ref(const std::string& name) { return user_ref(users, users->find(name)); }
};

// A login and a refresh as a shard applies them once their records are durable.
session open(session_table& t, const net::session_key& key, user_ref user, int64_t now) {
  t.restore(key, std::move(user), now, t.new_expiry(now));
  return *t.validate(key, now).found;
}

lookup_result refresh(session_table& t, const net::session_key& key, int64_t now) {
  auto r = t.validate(key, now);
  if (r.status != lookup_status::ok || !t.extend(key, t.refreshed_expiry(*r.found, now)))
    return r;
  return t.validate(key, now);
}

TEST(SessionTable, ValidUntilTtlThenExpired) {
  table_fixture f;
  session_table t(lifetimes());
  auto key = net::random_session_id();
  EXPECT_EQ(open(t, key, f.ref("alice"), 1000).expires_ms, 11000);
  auto r = t.validate(key, 10999);
  ASSERT_EQ(r.status, lookup_status::ok);
  EXPECT_EQ(r.found->user->name, "alice");
  // Expired, and said so every time, until the sweep removes it.
  EXPECT_EQ(t.validate(key, 11000).status, lookup_status::expired);
  EXPECT_EQ(t.validate(key, 11001).status, lookup_status::expired);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.held(), 1u);
  EXPECT_EQ(t.sweep(11001), 1u);
  EXPECT_EQ(t.validate(key, 11002).status, lookup_status::unknown);
  EXPECT_EQ(t.held(), 0u);
}

TEST(SessionTable, RefreshSlidesButNeverPassesTheCap) {
  table_fixture f;
  session_table t(lifetimes());
  auto key = net::random_session_id();
  open(t, key, f.ref("alice"), 0);
  EXPECT_EQ(refresh(t, key, 5000).found->expires_ms, 15000);
  EXPECT_EQ(refresh(t, key, 14000).found->expires_ms, 24000);
  EXPECT_EQ(refresh(t, key, 23000).found->expires_ms, 25000);  // max_lifetime_s
  EXPECT_EQ(t.validate(key, 24999).status, lookup_status::ok);
  EXPECT_EQ(refresh(t, key, 25000).status, lookup_status::expired);
}

TEST(SessionTable, RefreshingOftenDoesNotGrowTheIndex) {
  table_fixture f;
  session_table t(lifetimes());
  auto key = net::random_session_id();
  open(t, key, f.ref("alice"), 0);
  for (int64_t now = 0; now < 24000; now += 7)
    ASSERT_EQ(refresh(t, key, now).status, lookup_status::ok);
  EXPECT_EQ(t.indexed(), 1u);
  EXPECT_EQ(t.sweep(20000), 0u);  // due entry re-filed at the real expiry
  EXPECT_EQ(t.indexed(), 1u);
  EXPECT_EQ(t.sweep(25000), 1u);
  EXPECT_EQ(t.indexed(), 0u);
}

TEST(SessionTable, LogoutEndsTheSession) {
  table_fixture f;
  session_table t(lifetimes());
  auto key = net::random_session_id();
  open(t, key, f.ref("alice"), 0);
  EXPECT_TRUE(t.logout(key));
  EXPECT_FALSE(t.logout(key));
  EXPECT_EQ(t.validate(key, 1).status, lookup_status::unknown);
}

TEST(SessionTable, SweepErasesOnlyWhatIsDue) {
  table_fixture f;
  session_table t(lifetimes());
  std::vector<net::session_key> early, late;
  for (int i = 0; i < 100; ++i) {
    early.push_back(net::random_session_id());
    open(t, early.back(), f.ref("alice"), 0);  // due at 10 s
    late.push_back(net::random_session_id());
    open(t, late.back(), f.ref("bob"), 5000);  // due at 15 s
  }
  refresh(t, early[0], 9000);  // slides to 19 s: its stale index entry must be skipped
  EXPECT_EQ(t.sweep(9999), 0u);
  EXPECT_EQ(t.sweep(10000), 99u);
  EXPECT_EQ(t.size(), 101u);
  EXPECT_EQ(t.sweep(15000), 100u);
  EXPECT_EQ(t.validate(early[0], 15001).status, lookup_status::ok);
  EXPECT_EQ(t.sweep(19000), 1u);
  EXPECT_EQ(t.size(), 0u);
}

// What a shard needs to account for a sweep as it does for the periodic one
// (castellan_sessions_active down, ended_total{reason="expired"} up, one
// session_expired record each): exactly the sessions erased, with their users.
TEST(SessionTable, SweepNamesEverySessionItErasesAndNoOther) {
  table_fixture f;
  session_table t(lifetimes());
  auto due = net::random_session_id(), also_due = net::random_session_id();
  auto refreshed = net::random_session_id(), logged_out = net::random_session_id();
  auto seen_expired = net::random_session_id();
  open(t, due, f.ref("alice"), 0);
  open(t, also_due, f.ref("bob"), 0);
  open(t, refreshed, f.ref("alice"), 0);
  open(t, logged_out, f.ref("bob"), 0);
  open(t, seen_expired, f.ref("bob"), 0);
  refresh(t, refreshed, 5000);  // due at 15 s now
  t.logout(logged_out);        // its tombstone goes at 10 s, but it is no session
  std::vector<session_table::expired_session> expired;
  EXPECT_EQ(t.sweep(9999, &expired), 0u);
  EXPECT_TRUE(expired.empty());
  // Seen expired, it stays for the sweep to end and name.
  ASSERT_EQ(t.validate(seen_expired, 10000).status, lookup_status::expired);
  EXPECT_EQ(t.sweep(10000, &expired), 3u);
  ASSERT_EQ(expired.size(), 3u);
  std::map<net::session_key, std::string> named;
  for (auto& x : expired)
    named[x.key] = x.user;
  EXPECT_EQ(named, (std::map<net::session_key, std::string>{
                       {due, "alice"}, {also_due, "bob"}, {seen_expired, "bob"}}));
  EXPECT_EQ(t.size(), 1u);
  expired.clear();
  EXPECT_EQ(t.sweep(15000, &expired), 1u);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].key, refreshed);
}

TEST(SessionTable, DisabledOrRemovedUsersLoseTheirSessions) {
  table_fixture f;
  session_table t(lifetimes());
  auto a = net::random_session_id(), b = net::random_session_id();
  open(t, a, f.ref("alice"), 0);
  open(t, b, f.ref("bob"), 0);
  auto next = f.number({{"alice", "$argon2id$x", {"trader", "admin"}, true, {}}});
  EXPECT_EQ(t.apply_users(next), 1u);  // bob removed
  auto r = t.validate(a, 1);
  ASSERT_EQ(r.status, lookup_status::ok);
  EXPECT_EQ(r.found->user->roles, (std::vector<std::string>{"trader", "admin"}));
  auto disabled = f.number({{"alice", "$argon2id$x", {}, false, {}}});
  EXPECT_EQ(t.apply_users(disabled), 1u);
  EXPECT_EQ(t.size(), 0u);
}

// A session names its user by number: the table refuses a user without one
// rather than store a session nobody could name later, and changes nothing.
TEST(SessionTable, AUserWithoutANumberIsRefused) {
  table_fixture f;
  session_table t(lifetimes());
  auto unnumbered = std::make_shared<config::users_table>();
  unnumbered->by_name["carol"] = {"carol", "$argon2id$z", {}, true, {}};
  auto key = net::random_session_id();
  EXPECT_THROW(t.restore(key, user_ref(unnumbered, unnumbered->find("carol")), 0, 10000),
               std::invalid_argument);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.validate(key, 1).status, lookup_status::unknown);
}

// Sessions of many users, through reloads that rename nobody: each session
// keeps naming its own user, with the roles of the newest snapshot applied.
TEST(SessionTable, EachSessionNamesItsOwnUserThroughReloads) {
  table_fixture f;
  session_table t(lifetimes());
  std::vector<std::pair<net::session_key, std::string>> opened;
  for (int i = 0; i < 300; ++i) {
    auto key = net::random_session_id();
    std::string name = i % 3 == 0 ? "alice" : "bob";
    open(t, key, f.ref(name), 0);
    opened.emplace_back(key, name);
  }
  auto next = f.number({{"bob", "$argon2id$y", {"risk"}, true, {}},
                        {"alice", "$argon2id$x", {"trader", "admin"}, true, {}},
                        {"aaron", "$argon2id$w", {}, true, {}}});
  EXPECT_EQ(t.apply_users(next), 0u);
  for (auto& [key, name] : opened) {
    auto r = t.validate(key, 1);
    ASSERT_EQ(r.status, lookup_status::ok);
    EXPECT_EQ(r.found->user->name, name);
    EXPECT_EQ(r.found->user->roles, next->find(name)->roles);
  }
  size_t live = 0;
  t.for_each([&](const net::session_key&, const session& s) { live += s.user->name.empty() ? 0 : 1; },
             [](const net::session_key&, int64_t) {});
  EXPECT_EQ(live, opened.size());
}

TEST(SessionTable, ShardIndexSpreadsSessions) {
  std::vector<int> counts(4);
  for (int i = 0; i < 4000; ++i)
    ++counts[shard_index(net::random_session_id(), 4)];
  for (int c : counts)
    EXPECT_GT(c, 800);
}

}  // namespace
}  // namespace castellan::actors

// -- cluster merges: copies converge whatever order changes arrive in --------

namespace castellan::actors {
namespace {

TEST(SessionTableMerge, AnEndBeatsAnyLiveCopy) {
  table_fixture f;
  session_table t(lifetimes());
  auto key = net::random_session_id();
  EXPECT_TRUE(t.merge_live(key, f.ref("alice"), 0, 10000));
  EXPECT_TRUE(t.merge_end(key, 10000));
  EXPECT_FALSE(t.merge_live(key, f.ref("alice"), 0, 20000));  // a late copy cannot revive it
  EXPECT_EQ(t.validate(key, 1).status, lookup_status::unknown);
  EXPECT_TRUE(t.ended(key));
}

TEST(SessionTableMerge, TheLaterExpiryWins) {
  table_fixture f;
  session_table t(lifetimes());
  auto key = net::random_session_id();
  t.merge_live(key, f.ref("alice"), 0, 10000);
  EXPECT_TRUE(t.merge_live(key, f.ref("alice"), 0, 15000));
  EXPECT_FALSE(t.merge_live(key, f.ref("alice"), 0, 12000));
  EXPECT_EQ(t.validate(key, 1).found->expires_ms, 15000);
}

TEST(SessionTableMerge, LogoutLeavesATombstoneThatTheSweepDropsAtExpiry) {
  table_fixture f;
  session_table t(lifetimes());
  auto key = net::random_session_id();
  open(t, key, f.ref("alice"), 0);
  EXPECT_TRUE(t.logout(key));
  EXPECT_TRUE(t.ended(key));
  EXPECT_EQ(t.tombstones(), 1u);
  t.sweep(10000);  // the session would have expired at 10 s
  EXPECT_EQ(t.tombstones(), 0u);
}

TEST(SessionTableMerge, ForgetDropsACopyWithoutATrace) {
  table_fixture f;
  session_table t(lifetimes());
  auto key = net::random_session_id();
  open(t, key, f.ref("alice"), 0);
  t.forget(key);
  EXPECT_FALSE(t.ended(key));
  EXPECT_TRUE(t.merge_live(key, f.ref("alice"), 0, 5000));  // it may come back with its range
}

}  // namespace
}  // namespace castellan::actors
