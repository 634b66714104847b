// Rate-limit arithmetic for one key: GCRA (the generic cell rate algorithm,
// a token bucket without timers: one timestamp per key) plus a lockout that
// doubles after repeated failures. Pure functions of (state, now), so the
// arithmetic is unit-tested with an injected clock.
#pragma once

#include <algorithm>
#include <cstdint>

namespace castellan::actors {

// Policy for one kind of key (user, ip, user_ip); from [limiter.<kind>].
struct rate_policy {
  double rate_per_s = 10;          // sustained attempts per second
  uint32_t burst = 20;             // attempts allowed at once
  uint32_t lockout_after = 10;     // consecutive failures that start a lockout; 0 = never
  int64_t lockout_base_ms = 1000;  // first lockout; each further one doubles
  int64_t lockout_max_ms = 900000; // cap on one lockout
};

struct key_state {
  int64_t tat_ms = 0;              // GCRA theoretical arrival time
  uint32_t failures = 0;           // consecutive failures since the last success or lockout
  uint32_t reserved = 0;           // units allowed attempts reserved and no outcome settled yet
  int64_t last_failure_ms = 0;     // failures older than lockout_max_ms no longer count
  uint32_t lockouts = 0;           // lockouts in a row (the backoff exponent)
  int64_t locked_until_ms = 0;     // 0 = not locked
  int64_t last_seen_ms = 0;
};

struct decision {
  bool allowed = true;
  int64_t retry_after_ms = 0;
  bool locked = false;             // refused because of a lockout (not the rate)
  bool failed = false;             // no answer could be had (a limiter shard was lost)
  bool full = false;               // with failed: the key's shard had no room for it
};

// Asks for one attempt at `now`. An allowed attempt reserves one unit of the
// bucket; refund() gives it back when the attempt succeeds, so successful
// logins never use up the allowance, only concurrency does (bounded by burst).
decision check(const rate_policy& p, key_state& s, int64_t now);

// Returns the unit an allowed attempt reserved (a successful login). Never
// more units than were reserved: logins that shared one check (identical
// logins in flight at once) succeed many times on one reservation.
void refund(const rate_policy& p, key_state& s, int64_t now);

enum class outcome_effect { none, lockout_started, lockout_reset };

// Records the result of an attempt. A failure may start a lockout of
// lockout_base_ms * 2^(lockouts so far), capped; a success clears failures
// and the backoff exponent. Failures more than lockout_max_ms apart do not
// add up (the count starts over), so a stray typo is not remembered forever.
outcome_effect record_outcome(const rate_policy& p, key_state& s, bool success, int64_t now);

// True while forgetting the key would help an attacker: a lockout in force,
// a backoff still remembered (the next lockout would be longer), or failures
// still counting towards a lockout. Such keys are never evicted.
bool is_protected(const rate_policy& p, const key_state& s, int64_t now);

// True when the key holds no information worth keeping: bucket full again
// and not protected. Sweeps drop such keys.
bool is_idle(const rate_policy& p, const key_state& s, int64_t now);

}  // namespace castellan::actors
