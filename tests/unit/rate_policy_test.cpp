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

}  // namespace
}  // namespace castellan::actors
