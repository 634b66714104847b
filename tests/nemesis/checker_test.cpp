// The nemesis checker on histories written by hand: one clean history that
// exercises every rule without breaking it, and for each rule a history that
// breaks it (and its near miss that does not, where concurrency decides).
#include "tests/nemesis/checker.hpp"

#include <gtest/gtest.h>

namespace castellan::nemesis {
namespace {

constexpr micros s = 1'000'000;  // one second in history time

// Builds histories: every op completes, times in seconds.
struct builder {
  history h;
  operation& add(op_type type, int member, double t0, double t1, outcome r, const std::string& code,
                 const std::string& token, const std::string& user = "u1") {
    operation op;
    op.index = h.ops.size();
    op.type = type;
    op.member = member;
    op.invoked = micros(t0 * s);
    op.completed = micros(t1 * s);
    op.result = r;
    op.code = code;
    op.token = token;
    op.user = user;
    h.ops.push_back(op);
    return h.ops.back();
  }
  void login(const std::string& token, double t0, double t1, const std::string& user = "u1",
             uint32_t holders = 0b011) {
    auto& op = add(op_type::login, 0, t0, t1, outcome::ok, "", token, user);
    op.expires_at_run_ms = 3600 * 1000;
    op.holders = holders;
  }
  void owner(const std::string& token, double t0, double t1, outcome r = outcome::ok,
             const std::string& code = "", int member = 0) {
    add(op_type::validate_owner, member, t0, t1, r, code, token);
  }
  void local(const std::string& token, double t0, double t1, outcome r = outcome::ok,
             const std::string& code = "", int member = 0) {
    add(op_type::validate_local, member, t0, t1, r, code, token);
  }
  void logout(const std::string& token, double t0, double t1, outcome r = outcome::ok,
              const std::string& code = "") {
    add(op_type::logout, 0, t0, t1, r, code, token);
  }
  void revoke(const std::string& user, double t0, double t1, outcome r = outcome::ok) {
    add(op_type::revoke_user, 0, t0, t1, r, "", "caller", user);
  }
  void fault_(fault_kind k, uint32_t members, double t0, double healed, double settled, int from = -1,
              int to = -1) {
    fault f;
    f.kind = k;
    f.members = members;
    f.from = from;
    f.to = to;
    f.started = micros(t0 * s);
    f.healed = micros(healed * s);
    f.settled = micros(settled * s);
    h.faults.push_back(f);
  }
};

report run(const builder& b, std::vector<audit_result> audits = {{0, 0, "ok"}, {1, 0, "ok"}, {2, 0, "ok"}}) {
  auto r = check(b.h, audits);
  std::cout << r.summary();
  return r;
}

TEST(NemesisChecker, ACleanHistoryHasNoViolation) {
  builder b;
  b.login("T1", 1.0, 1.1);
  b.owner("T1", 1.05, 1.2);  // overlaps its login: not judged
  b.owner("T1", 1.2, 1.3);
  b.local("T1", 1.3, 1.4);
  b.add(op_type::refresh, 0, 1.4, 1.5, outcome::ok, "", "T1");
  // A kill: unavailable while it is in effect, invalid_token never.
  b.fault_(fault_kind::kill9, 0b010, 2.0, 4.0, 5.0);
  b.owner("T1", 2.1, 4.1, outcome::failed, "unavailable", 0);
  b.add(op_type::login, 1, 2.2, 2.3, outcome::lost, "", "");  // on the killed member: allowed
  b.owner("T1", 2.4, 7.4, outcome::no_answer, "", 1);         // ditto
  // A logout overlapping reads: either answer is fine for them.
  b.logout("T1", 10.0, 10.5);
  b.owner("T1", 10.1, 10.2);
  b.owner("T1", 10.2, 10.6, outcome::failed, "invalid_token");
  b.owner("T1", 10.6, 10.7, outcome::failed, "invalid_token");
  b.local("T1", 10.7, 10.8, outcome::failed, "invalid_token");
  // A revoke of the user ends the sessions opened before it.
  b.login("T2", 11.0, 11.1);
  b.revoke("u1", 12.0, 12.2);
  b.owner("T2", 12.3, 12.4, outcome::failed, "invalid_token");
  // During a partition, a local read may still see the ended session.
  b.login("T3", 20.0, 20.1, "u2");
  b.fault_(fault_kind::partition_symmetric, 0b101, 21.0, 25.0, 26.0, 0, 2);
  b.logout("T3", 21.5, 21.6);
  b.local("T3", 22.0, 22.1, outcome::ok, "", 2);
  auto r = run(b);
  EXPECT_TRUE(r.clean()) << r.summary();
  EXPECT_GT(r.judged.at('a'), 0u);
  EXPECT_GT(r.judged.at('b'), 0u);
  EXPECT_GT(r.judged.at('c'), 0u);
}

TEST(NemesisChecker, AnOwnerReadOkAfterAnAcknowledgedLogoutBreaksA) {
  builder b;
  b.login("T1", 1.0, 1.1);
  b.logout("T1", 2.0, 2.1);
  b.owner("T1", 2.05, 2.3);  // overlaps the logout: fine
  b.owner("T1", 2.2, 2.3);   // after the ack: a violation
  auto r = run(b);
  EXPECT_EQ(r.count('a'), 1u);
  EXPECT_EQ(r.violations.size(), 1u);
}

TEST(NemesisChecker, AnOwnerReadOkAfterAnAcknowledgedRevokeBreaksA) {
  builder b;
  b.login("T1", 1.0, 1.1, "u7");
  b.login("T2", 1.9, 2.1, "u7");  // overlaps the revoke: not certainly ended
  b.revoke("u7", 2.0, 2.5);
  b.owner("T1", 3.0, 3.1);
  b.owner("T2", 3.0, 3.1);
  auto r = run(b);
  EXPECT_EQ(r.count('a'), 1u);
  EXPECT_EQ(r.violations.size(), 1u);
}

TEST(NemesisChecker, InvalidTokenForALiveSessionBreaksBEvenWithRHoldersDown) {
  builder b;
  b.login("T1", 1.0, 1.1, "u1", 0b011);
  b.owner("T1", 2.0, 2.1, outcome::failed, "invalid_token");
  b.fault_(fault_kind::kill_r, 0b011, 3.0, 6.0, 8.0);
  b.owner("T1", 4.0, 4.1, outcome::failed, "invalid_token", 2);
  b.owner("T1", 4.2, 4.3, outcome::failed, "unavailable", 2);  // the truthful answer
  auto r = run(b);
  EXPECT_EQ(r.count('b'), 2u);
  EXPECT_EQ(r.per_kind.count("b: invalid_token for a live session (R holders down) [during kill-9-R]"), 1u);
  EXPECT_EQ(r.per_kind.count("b: invalid_token for a live session [no fault]"), 1u);
  EXPECT_EQ(r.violations.size(), 2u);
}

TEST(NemesisChecker, UnavailableWithNoFaultInEffectBreaksB) {
  builder b;
  b.login("T1", 1.0, 1.1);
  b.owner("T1", 2.0, 2.1, outcome::failed, "unavailable");
  b.fault_(fault_kind::sigstop, 0b100, 10.0, 12.0, 13.0);
  b.owner("T1", 15.0, 15.1, outcome::failed, "unavailable");  // within the settle grace
  b.owner("T1", 16.0, 16.1, outcome::failed, "unavailable");  // past it
  auto r = run(b);
  EXPECT_EQ(r.count('b'), 2u);
  EXPECT_EQ(r.violations.size(), 2u);
}

TEST(NemesisChecker, LocalReadsOutsideTheStalenessBoundBreakC) {
  builder b;
  b.login("T1", 1.0, 1.1);
  b.local("T1", 2.0, 2.1, outcome::failed, "invalid_token");  // a live session denied
  b.logout("T1", 3.0, 3.1);
  b.local("T1", 3.2, 3.3);  // stale, and no partition to excuse it
  // During a partition and its detection bound a stale `ok` is within the
  // bound; denying a live session never is, and `unavailable` is allowed.
  b.login("T2", 10.0, 10.1, "u2");
  b.fault_(fault_kind::partition_one_way, 0b011, 11.0, 13.0, 14.0, 0, 1);
  b.local("T2", 11.5, 11.6, outcome::failed, "invalid_token", 1);
  b.local("T2", 11.7, 11.8, outcome::failed, "unavailable", 1);
  b.logout("T2", 12.0, 12.1);
  b.local("T2", 14.5, 14.6, outcome::ok, "", 1);
  b.local("T2", 15.5, 15.6, outcome::ok, "", 1);  // past heal + detection bound
  auto r = run(b);
  EXPECT_EQ(r.count('c'), 4u);
  EXPECT_EQ(r.violations.size(), 4u);
}

TEST(NemesisChecker, ARequestWithoutAReplyOnAHealthyMemberBreaksD) {
  builder b;
  b.login("T1", 1.0, 1.1);
  b.owner("T1", 2.0, 7.0, outcome::no_answer, "", 1);
  b.owner("T1", 8.0, 8.1, outcome::lost, "", 2);
  b.fault_(fault_kind::sigstop, 0b001, 20.0, 23.0, 24.0);
  b.owner("T1", 21.0, 26.0, outcome::no_answer, "", 0);  // frozen member: allowed
  auto r = run(b);
  EXPECT_EQ(r.count('d'), 2u);
  EXPECT_EQ(r.violations.size(), 2u);
}

TEST(NemesisChecker, AFailedAuditVerifyBreaksE) {
  builder b;
  b.login("T1", 1.0, 1.1);
  auto r = run(b, {{0, 0, "ok"}, {1, 1, "bad record at segment 3"}, {2, 0, "ok"}});
  EXPECT_EQ(r.count('e'), 1u);
  EXPECT_EQ(r.violations.size(), 1u);
}

}  // namespace
}  // namespace castellan::nemesis
