// GCRA and lockout arithmetic, driven by an explicit clock (ms).
#include <gtest/gtest.h>

#include "actors/limiter/limiter_table.hpp"
#include "actors/limiter/rate_policy.hpp"

namespace castellan::actors {
namespace {

rate_policy policy(double rate, uint32_t burst, uint32_t lockout_after = 0) {
  return {rate, burst, lockout_after, 1000, 8000};
}

TEST(Gcra, BurstThenOnePerInterval) {
  auto p = policy(10, 5);  // 100 ms interval
  key_state s;
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(check(p, s, 0).allowed) << i;
  auto refused = check(p, s, 0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_FALSE(refused.locked);
  EXPECT_EQ(refused.retry_after_ms, 100);
  EXPECT_FALSE(check(p, s, 99).allowed);
  EXPECT_TRUE(check(p, s, 100).allowed);
  EXPECT_FALSE(check(p, s, 100).allowed);
}

TEST(Gcra, IdleTimeRefillsUpToTheBurstOnly) {
  auto p = policy(10, 3);
  key_state s;
  for (int i = 0; i < 3; ++i)
    check(p, s, 0);
  int allowed = 0;
  for (int i = 0; i < 10; ++i)
    allowed += check(p, s, 60000).allowed;
  EXPECT_EQ(allowed, 3);
}

TEST(Gcra, RefundedSuccessesDoNotUseTheAllowance) {
  auto p = policy(1, 2);
  key_state s;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(check(p, s, 0).allowed) << i;
    refund(p, s, 0);
  }
}

// Logins that shared one check (identical logins in flight at once) succeed
// many times on one reservation: the bucket gets back what was reserved,
// never what failures before them used up.
TEST(Gcra, RefundsNeverReturnMoreThanWasReserved) {
  auto p = policy(1, 4, 10);  // 1 s interval, burst 4
  key_state s;
  for (int i = 0; i < 3; ++i) {  // three failed guesses use three units
    ASSERT_TRUE(check(p, s, 0).allowed);
    record_outcome(p, s, false, 0);
  }
  ASSERT_TRUE(check(p, s, 0).allowed);  // one reservation ...
  for (int i = 0; i < 100; ++i)         // ... answered by 100 successes
    refund(p, s, 0);
  EXPECT_TRUE(check(p, s, 0).allowed) << "the refunded unit";
  EXPECT_FALSE(check(p, s, 0).allowed) << "the failures' units are still spent";
}

TEST(Lockout, StartsAfterNFailuresAndDoubles) {
  auto p = policy(1000, 1000, 3);  // rate never the limit here
  key_state s;
  int64_t now = 0;
  EXPECT_EQ(record_outcome(p, s, false, now), outcome_effect::none);
  EXPECT_EQ(record_outcome(p, s, false, now), outcome_effect::none);
  EXPECT_EQ(record_outcome(p, s, false, now), outcome_effect::lockout_started);
  auto d = check(p, s, now);
  EXPECT_FALSE(d.allowed);
  EXPECT_TRUE(d.locked);
  EXPECT_EQ(d.retry_after_ms, 1000);
  now = 1000;
  EXPECT_TRUE(check(p, s, now).allowed);
  for (int i = 0; i < 3; ++i)
    record_outcome(p, s, false, now);
  EXPECT_EQ(check(p, s, now).retry_after_ms, 2000);  // doubled
  now += 2000;
  for (int i = 0; i < 3; ++i)
    record_outcome(p, s, false, now);
  EXPECT_EQ(check(p, s, now).retry_after_ms, 4000);
  now += 4000;
  for (int i = 0; i < 3; ++i)
    record_outcome(p, s, false, now);
  EXPECT_EQ(check(p, s, now).retry_after_ms, 8000);  // capped at lockout_max_ms
  now += 8000;
  for (int i = 0; i < 3; ++i)
    record_outcome(p, s, false, now);
  EXPECT_EQ(check(p, s, now).retry_after_ms, 8000);
}

TEST(Lockout, ASuccessResetsFailuresAndBackoff) {
  auto p = policy(1000, 1000, 3);
  key_state s;
  record_outcome(p, s, false, 0);
  record_outcome(p, s, false, 0);
  EXPECT_EQ(record_outcome(p, s, true, 0), outcome_effect::lockout_reset);
  EXPECT_EQ(record_outcome(p, s, false, 0), outcome_effect::none);
  EXPECT_EQ(record_outcome(p, s, false, 0), outcome_effect::none);
  EXPECT_EQ(record_outcome(p, s, false, 0), outcome_effect::lockout_started);
  EXPECT_EQ(check(p, s, 0).retry_after_ms, 1000);
}

TEST(Lockout, BackoffIsForgottenAfterAQuietPeriod) {
  auto p = policy(1000, 1000, 1);
  key_state s;
  record_outcome(p, s, false, 0);               // locked 1 s
  record_outcome(p, s, false, 1000);            // locked 2 s
  EXPECT_FALSE(is_idle(p, s, 3000));            // the backoff is still remembered
  record_outcome(p, s, false, 3000 + 8001);     // quiet for longer than lockout_max_ms
  EXPECT_EQ(check(p, s, 11001).retry_after_ms, 1000);
  EXPECT_TRUE(is_idle(p, s, 12001 + 8001));
}

TEST(Lockout, FailuresFurtherApartThanLockoutMaxDoNotAddUp) {
  auto p = policy(1000, 1000, 3);  // lockout_max_ms 8000
  key_state s;
  record_outcome(p, s, false, 0);
  record_outcome(p, s, false, 1000);
  EXPECT_TRUE(is_protected(p, s, 9000));   // the second failure still counts
  EXPECT_FALSE(is_protected(p, s, 9001));  // both are stale now
  EXPECT_EQ(record_outcome(p, s, false, 9001), outcome_effect::none);  // counts as the first
  EXPECT_EQ(record_outcome(p, s, false, 9002), outcome_effect::none);
  EXPECT_EQ(record_outcome(p, s, false, 9003), outcome_effect::lockout_started);
}

TEST(Lockout, FailuresProtectAKeyOnlyWhereTheyCanLeadToALockout) {
  key_state s;
  record_outcome(policy(1000, 1000, 0), s, false, 0);
  EXPECT_FALSE(is_protected(policy(1000, 1000, 0), s, 0));
  EXPECT_TRUE(is_protected(policy(1000, 1000, 5), s, 0));
}

TEST(LimiterTable, MemoryIsBoundedByMaxKeys) {
  rate_policies ps{policy(10, 5), policy(10, 5), policy(10, 5)};
  limiter_table t(ps, 100);
  std::vector<lockout_change> changes;
  for (int i = 0; i < 1000; ++i)
    t.check({key_kind::ip, "10.0.0." + std::to_string(i)}, 0, changes);
  EXPECT_EQ(t.size(), 100u);
  EXPECT_EQ(t.evicted_busy(), 900u);  // each held a reserved unit
}

TEST(LimiterTable, SweepDropsIdleKeysWithinItsBudget) {
  rate_policies ps{policy(10, 5), policy(10, 5), policy(10, 5)};
  limiter_table t(ps, 1000);
  std::vector<lockout_change> changes;
  for (int i = 0; i < 50; ++i)
    t.check({key_kind::user, "u" + std::to_string(i)}, 0, changes);
  EXPECT_EQ(t.sweep(0, 1000, changes), 0u);       // buckets not refilled yet
  EXPECT_EQ(t.sweep(10000, 20, changes), 20u);    // budget
  EXPECT_EQ(t.sweep(10000, 1000, changes), 30u);
  EXPECT_EQ(t.size(), 0u);
}

TEST(LimiterTable, LockoutStartAndEndAreReportedOnce) {
  rate_policies ps{policy(1000, 1000, 2), policy(1000, 1000), policy(1000, 1000)};
  limiter_table t(ps, 1000);
  std::vector<lockout_change> changes;
  limit_key alice{key_kind::user, "alice"};
  t.record(alice, false, 0, changes);
  t.record(alice, false, 0, changes);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_TRUE(changes[0].started);
  EXPECT_EQ(changes[0].until_ms, 1000);
  changes.clear();
  EXPECT_FALSE(t.check(alice, 500, changes).allowed);
  EXPECT_TRUE(changes.empty());
  EXPECT_TRUE(t.check(alice, 1000, changes).allowed);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].started);
  changes.clear();
  t.sweep(5000, 100, changes);
  EXPECT_TRUE(changes.empty());
}

// The attack docs/rate-limiting.md rules out: invented user names (free to
// make up) pushing a locked-out key out of a full table, which would lift
// its lockout.
rate_policies lockout_policies() {
  return {policy(1000, 1000, 2), policy(1000, 1000), policy(1000, 1000, 2)};
}

void flood(limiter_table& t, int64_t now, int keys) {
  std::vector<lockout_change> changes;
  for (int i = 0; i < keys; ++i)
    t.check({key_kind::user, "invented-" + std::to_string(i)}, now, changes);
}

void fail(limiter_table& t, const limit_key& key, int64_t now, int times) {
  std::vector<lockout_change> changes;
  for (int i = 0; i < times; ++i)
    t.record(key, false, now, changes);
}

TEST(LimiterTable, AFloodOfNewKeysNeverEvictsALockoutInForce) {
  limiter_table t(lockout_policies(), 10);
  std::vector<lockout_change> changes;
  limit_key alice{key_kind::user, "alice"};
  fail(t, alice, 0, 2);  // locked until 1000
  flood(t, 1, 1000);
  EXPECT_LE(t.size(), 10u);
  auto d = t.check(alice, 500, changes);
  EXPECT_FALSE(d.allowed);
  EXPECT_TRUE(d.locked);
  EXPECT_EQ(d.retry_after_ms, 500);
}

TEST(LimiterTable, AFloodNeverEvictsARememberedBackoffOrCountingFailures) {
  limiter_table t(lockout_policies(), 10);
  std::vector<lockout_change> changes;
  limit_key alice{key_kind::user, "alice"}, bob{key_kind::user, "bob"};
  fail(t, alice, 0, 2);  // locked 0..1000, backoff remembered until 9000
  fail(t, bob, 0, 1);    // one failure of two
  flood(t, 2000, 1000);
  fail(t, alice, 3000, 2);
  EXPECT_EQ(t.check(alice, 3000, changes).retry_after_ms, 2000);  // doubled, not 1000 again
  fail(t, bob, 3000, 1);
  EXPECT_TRUE(t.check(bob, 3000, changes).locked);  // the first failure still counted
  EXPECT_EQ(t.refused_full(), 0u);
}

TEST(LimiterTable, WhenEveryKeyIsProtectedANewKeyIsRefusedNotAdmitted) {
  limiter_table t(lockout_policies(), 4);
  std::vector<lockout_change> changes;
  for (int i = 0; i < 4; ++i)
    fail(t, {key_kind::user, "locked-" + std::to_string(i)}, 0, 2);
  EXPECT_EQ(t.protected_keys(), 4u);
  auto d = t.check({key_kind::user, "newcomer"}, 100, changes);
  EXPECT_FALSE(d.allowed);
  EXPECT_TRUE(d.failed);
  EXPECT_TRUE(d.full);
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(t.refused_full(), 1u);
  EXPECT_TRUE(t.check({key_kind::user, "locked-0"}, 100, changes).locked);  // still answered
  // Once a protection lapses (lockout over, backoff forgotten after
  // lockout_max_ms), that key makes room even before a sweep moved it.
  d = t.check({key_kind::user, "newcomer"}, 1000 + 8001, changes);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(changes.size(), 1u);  // the evicted key's lockout end is still reported
}

// Otherwise a login's second new key could evict its first, whose failure
// would then be kept beyond the cap: login after login, without bound.
TEST(LimiterTable, TheKeysOfOneLoginNeverEvictEachOther) {
  limiter_table t(lockout_policies(), 4);
  std::vector<lockout_change> changes;
  fail(t, {key_kind::user, "a"}, 0, 2);
  fail(t, {key_kind::user, "b"}, 0, 2);
  limit_key ip{key_kind::ip, "10.0.0.1"};
  t.check(ip, 0, changes);
  std::vector<decision> out;
  t.check({{key_kind::user, "c"}, ip, {key_kind::user_ip, "c|10.0.0.1"}}, 1, changes, out);
  ASSERT_EQ(out.size(), 3u);
  for (auto& d : out)
    EXPECT_TRUE(d.full);
  EXPECT_EQ(t.size(), 3u);  // nothing added, and the IP's key not evicted for them
  t.check({{key_kind::user, "c"}, ip}, 1, changes, out);  // one new key: there is room
  EXPECT_TRUE(out[0].allowed && out[1].allowed);
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(t.evicted(), 0u);
}

TEST(LimiterTable, AFailureOnAForgottenKeyIsKeptBeyondTheCap) {
  limiter_table t(lockout_policies(), 2);
  std::vector<lockout_change> changes;
  fail(t, {key_kind::user, "a"}, 0, 2);
  fail(t, {key_kind::user, "b"}, 0, 2);
  fail(t, {key_kind::user, "c"}, 0, 1);  // never checked here: a failure to remember anyway
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.overflow(), 1u);
  t.record({key_kind::user, "d"}, true, 0, changes);  // a success on an unknown key: nothing kept
  EXPECT_EQ(t.size(), 3u);
}

TEST(LimiterTable, SweepsMoveLapsedProtectionsBackAndDropThem) {
  limiter_table t(lockout_policies(), 100);
  std::vector<lockout_change> changes;
  fail(t, {key_kind::user, "alice"}, 0, 2);
  fail(t, {key_kind::user, "bob"}, 0, 1);
  EXPECT_EQ(t.sweep(5000, 100, changes), 0u);
  EXPECT_EQ(t.protected_keys(), 2u);
  ASSERT_EQ(changes.size(), 1u);  // alice's lockout ended at 1000
  EXPECT_FALSE(changes[0].started);
  EXPECT_EQ(t.sweep(1000 + 8001, 100, changes), 2u);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.protected_keys(), 0u);
}

TEST(LimiterTable, KeysOfAKindWithoutLockoutAreEvictedDespiteFailures) {
  limiter_table t(lockout_policies(), 10);
  std::vector<lockout_change> changes;
  limit_key ip{key_kind::ip, "10.0.0.1"};
  fail(t, ip, 0, 5);
  EXPECT_EQ(t.protected_keys(), 0u);
  flood(t, 1, 100);
  EXPECT_EQ(t.refused_full(), 0u);
  EXPECT_LE(t.size(), 10u);
}

}  // namespace
}  // namespace castellan::actors
