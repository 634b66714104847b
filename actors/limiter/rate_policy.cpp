// GCRA and lockout arithmetic; see rate_policy.hpp.
//
// GCRA: with emission interval T = 1000 / rate ms and burst B, an attempt at
// time t conforms when max(TAT, t) + T - t <= B * T; it then moves TAT to
// max(TAT, t) + T. A refused attempt may retry after max(TAT, t) + T - B*T - t.
#include "actors/limiter/rate_policy.hpp"

#include <cmath>
#include <cstdint>

namespace castellan::actors {
namespace {

double interval_ms(const rate_policy& p) { return 1000.0 / std::max(p.rate_per_s, 1e-9); }

}  // namespace

decision check(const rate_policy& p, key_state& s, int64_t now) {
  s.last_seen_ms = now;
  if (s.locked_until_ms > now)
    return {false, s.locked_until_ms - now, true};
  double t = interval_ms(p);
  double tat = std::max<double>(static_cast<double>(s.tat_ms), static_cast<double>(now));
  double limit = t * std::max<uint32_t>(p.burst, 1);
  double excess = tat + t - static_cast<double>(now) - limit;
  if (excess > 0)
    return {false, static_cast<int64_t>(std::ceil(excess)), false};
  s.tat_ms = static_cast<int64_t>(std::llround(tat + t));
  if (s.reserved < UINT32_MAX)
    ++s.reserved;
  return {};
}

void refund(const rate_policy& p, key_state& s, int64_t now) {
  if (s.reserved == 0)
    return;
  --s.reserved;
  auto t = static_cast<int64_t>(std::llround(interval_ms(p)));
  s.tat_ms = std::max(s.tat_ms - t, now - t);
}

outcome_effect record_outcome(const rate_policy& p, key_state& s, bool success, int64_t now) {
  s.last_seen_ms = now;
  if (!success && s.reserved > 0)
    --s.reserved;  // settled: a failure keeps its unit
  if (success) {
    bool had = s.failures > 0 || s.lockouts > 0;
    s.failures = 0;
    s.lockouts = 0;
    return had ? outcome_effect::lockout_reset : outcome_effect::none;
  }
  // After a long quiet spell the backoff starts over.
  if (s.locked_until_ms && now - s.locked_until_ms > p.lockout_max_ms)
    s.lockouts = 0;
  if (s.failures && now - s.last_failure_ms > p.lockout_max_ms)
    s.failures = 0;
  ++s.failures;
  s.last_failure_ms = now;
  if (p.lockout_after == 0 || s.failures < p.lockout_after)
    return outcome_effect::none;
  int64_t backoff = p.lockout_base_ms;
  for (uint32_t i = 0; i < s.lockouts && backoff < p.lockout_max_ms; ++i)
    backoff *= 2;
  s.locked_until_ms = now + std::min(backoff, p.lockout_max_ms);
  s.failures = 0;
  ++s.lockouts;
  return outcome_effect::lockout_started;
}

bool is_protected(const rate_policy& p, const key_state& s, int64_t now) {
  if (s.locked_until_ms > now)
    return true;
  // A key that was locked keeps its backoff exponent through the quiet
  // period; forgetting it early would hand an attacker short lockouts.
  if (s.lockouts > 0 && now - s.locked_until_ms <= p.lockout_max_ms)
    return true;
  // Failures only matter where they can lead to a lockout, and only while
  // they still count (record_outcome forgets them after lockout_max_ms).
  return p.lockout_after > 0 && s.failures > 0 && now - s.last_failure_ms <= p.lockout_max_ms;
}

bool is_idle(const rate_policy& p, const key_state& s, int64_t now) {
  return s.tat_ms <= now && !is_protected(p, s, now);
}

}  // namespace castellan::actors
