// The nemesis checker: reads a whole history (tests/nemesis/history.hpp) and
// the members' `authctl audit verify` results, and lists every violation of
// the promises docs/cluster.md makes, by rule:
//   (a) after an acknowledged logout or revoke_user, no owner read of that
//       token is `ok` (reads invoked after the acknowledgement only);
//   (b) an acknowledged login validates on owner reads until its expiry or
//       its end; while a fault is in effect (R holders down among them) the
//       reply may be `unavailable`, never `invalid_token`;
//   (c) local reads stay within the documented staleness bound;
//   (d) every request gets a reply within the reply bound;
//   (e) `authctl audit verify` passes on every member afterwards.
// Concurrency is judged conservatively: a read that overlaps a logout (or a
// revoke of its user) may see either state; a read that overlaps its login is
// not judged. Pure functions over data, so unit-testable on made-up histories.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tests/nemesis/history.hpp"

namespace castellan::nemesis {

struct checker_config {
  // (d): no reply within this long is a violation (the client gives up then).
  // cluster.request_timeout_ms (2 s) bounds every forwarded request; 5 s
  // leaves room for a replication that waits that long after a forward did.
  micros reply_bound = 5'000'000;
  // After a fault has settled (every member sees every member up), replies
  // may still be `unavailable` this long: requests forwarded or replicated
  // before settling time out after cluster.request_timeout_ms (2 s).
  micros settle_grace = 2'500'000;
  // docs/cluster.md, "Partitions": a local read on the minority side may
  // accept a logged-out session for as long as the partition lasts plus the
  // detection bound (cluster.down_after_ms, 2 s).
  micros detection_bound = 2'000'000;
  // Expiry is judged with this margin (clocks, the sweeper).
  micros expiry_margin = 1'000'000;
  // A member that was killed, stopped or frozen may leave requests sent to
  // it unanswered until this long after it was healed.
  micros member_fault_grace = 1'000'000;
};

struct audit_result {
  int member = 0;
  int exit_code = -1;
  std::string output;
};

struct violation {
  char rule = '?';       // 'a'..'e'
  std::string kind;      // a short name of what went wrong
  uint64_t op = 0;       // the operation's index in the history (0 for (e))
  std::string detail;    // one line a person can follow
};

struct report {
  std::vector<violation> violations;
  std::map<char, size_t> per_rule;             // every rule present, 0 when clean
  std::map<std::string, size_t> per_kind;      // "b: invalid_token for a live session" -> n
  std::map<char, size_t> judged;               // how many operations each rule judged
  size_t operations = 0;
  size_t faults = 0;
  bool clean() const { return violations.empty(); }
  size_t count(char rule) const;
  // Counts per rule and kind, with up to `examples` examples of each kind.
  std::string summary(size_t examples = 2) const;
};

report check(const history& h, const std::vector<audit_result>& audits, const checker_config& cfg = {});

}  // namespace castellan::nemesis
