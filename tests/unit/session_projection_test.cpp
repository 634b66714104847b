// The fold recovery and the snapshotter rest on: auth_event records in, the
// sessions and lockouts docs/events.md ("Recovery reads these records") and
// docs/operations.md ("Recovery") promise out. Then the same fold from disk:
// a snapshot plus the log's tail says exactly what the whole log says.
#include <unistd.h>

#include <filesystem>
#include <map>
#include <tuple>

#include <gtest/gtest.h>
#include <msgpack.hpp>

#include "actors/recovery/session_projection.hpp"
#include "actors/storage/audit_log.hpp"
#include "actors/storage/session_snapshot.hpp"
#include "net/token.hpp"

namespace castellan::actors {
namespace {

using net::event_kind;
namespace fs = std::filesystem;

constexpr int64_t t0_ms = 1'700'000'000'000;  // the records' clock
constexpr int64_t hour = 3'600'000;

net::session_key key_of(int n) {
  net::session_key k;
  k.fill(static_cast<uint8_t>(n));
  k[15] = static_cast<uint8_t>(n * 7 + 1);
  return k;
}

net::auth_event event(event_kind kind, const std::string& user = "", std::string reason = "") {
  net::auth_event e;
  e.kind = std::string(net::to_string(kind));
  e.time_ms = t0_ms;
  e.node = "node-a";
  e.user = user;
  e.reason = std::move(reason);
  return e;
}
net::auth_event on_session(event_kind kind, const std::string& user, int session, int64_t until = 0) {
  auto e = event(kind, user);
  e.session = net::session_digest(key_of(session));
  e.until_ms = until;
  return e;
}
net::auth_event login(const std::string& user, int session, int64_t at, int64_t until) {
  auto e = on_session(event_kind::login_ok, user, session, until);
  e.time_ms = at;
  return e;
}
net::auth_event refresh(const std::string& user, int session, int64_t until) {
  return on_session(event_kind::refresh, user, session, until);
}
net::auth_event logout(const std::string& user, int session) {
  return on_session(event_kind::logout, user, session);
}
net::auth_event expired(const std::string& user, int session) {
  return on_session(event_kind::session_expired, user, session);
}
net::auth_event user_changed(const std::string& user, const std::string& how) {
  return event(event_kind::user_changed, user, how);
}
net::auth_event lockout(event_kind kind, const std::string& key_kind, const std::string& user,
                        const std::string& ip, int64_t until = 0) {
  auto e = event(kind, user, key_kind);
  e.ip = ip;
  e.until_ms = until;
  return e;
}

// Records 1..n, in order, as recovery would apply them.
session_projection fold(const std::vector<net::auth_event>& log, session_projection p = {}) {
  for (size_t i = 0; i < log.size(); ++i)
    p.apply(i + 1, log[i]);
  return p;
}

bool has(const session_projection& p, int session) { return p.sessions().count(key_of(session)) > 0; }
const session_projection::session_state& state(const session_projection& p, int session) {
  return p.sessions().at(key_of(session));
}
std::string user_of(const session_projection& p, int session) {
  return p.users()[state(p, session).user];
}

// What an image holds, by name rather than by index: comparable across folds.
using session_view = std::map<std::string, std::tuple<std::string, int64_t, int64_t>>;
using lockout_view = std::map<std::tuple<int, std::string, std::string>, std::pair<int64_t, uint32_t>>;
session_view sessions_in(const snapshot_image& img) {
  session_view out;
  for (auto& s : img.sessions)
    out[net::session_digest(s.key)] = {img.users.at(s.user), s.created_ms, s.expires_ms};
  return out;
}
lockout_view lockouts_in(const snapshot_image& img) {
  lockout_view out;
  for (auto& l : img.lockouts)
    out[{l.kind, l.user, l.ip}] = {l.until_ms, l.level};
  return out;
}

// -- sessions ------------------------------------------------------------------

TEST(SessionProjection, ALoginOpensASessionCreatedAndExpiringAsRecorded) {
  auto p = fold({login("alice", 1, t0_ms, t0_ms + hour)});
  ASSERT_TRUE(has(p, 1));
  EXPECT_EQ(user_of(p, 1), "alice");
  EXPECT_EQ(state(p, 1).created_ms, t0_ms);
  EXPECT_EQ(state(p, 1).expires_ms, t0_ms + hour);
  EXPECT_EQ(p.position(), 2u);
}

TEST(SessionProjection, ALogoutStaysLoggedOut) {
  auto p = fold({login("alice", 1, t0_ms, t0_ms + hour), login("alice", 2, t0_ms, t0_ms + hour),
                 logout("alice", 1)});
  EXPECT_FALSE(has(p, 1));
  EXPECT_TRUE(has(p, 2));
}

TEST(SessionProjection, ASessionTheSweeperExpiredIsGone) {
  auto p = fold({login("alice", 1, t0_ms, t0_ms + hour), expired("alice", 1)});
  EXPECT_TRUE(p.sessions().empty());
}

TEST(SessionProjection, TheExpiryIsTheOneTheClientWasLastTold) {
  auto p = fold({login("alice", 1, t0_ms, t0_ms + hour), refresh("alice", 1, t0_ms + 2 * hour),
                 refresh("alice", 1, t0_ms + 3 * hour)});
  EXPECT_EQ(state(p, 1).expires_ms, t0_ms + 3 * hour);
  EXPECT_EQ(state(p, 1).created_ms, t0_ms);  // a refresh never makes a session younger
}

TEST(SessionProjection, ARefreshOrLoginRecordAfterTheLogoutDoesNotBringTheSessionBack) {
  auto p = fold({login("alice", 1, t0_ms, t0_ms + hour), logout("alice", 1),
                 refresh("alice", 1, t0_ms + 2 * hour)});
  EXPECT_FALSE(has(p, 1));
  // Nor does a stale live copy handed over later (recorded as a login).
  EXPECT_FALSE(has(fold({login("alice", 1, t0_ms, t0_ms + hour), logout("alice", 1),
                         login("alice", 1, t0_ms, t0_ms + 2 * hour)}), 1));
  // A refresh of a session the log never opened opens nothing either.
  EXPECT_FALSE(has(fold({refresh("bob", 9, t0_ms + hour)}), 9));
}

// The end of a session is remembered (a tombstone) until the session would
// have expired: recovery puts it back into the shard's table, so a member
// that restarts still refuses a stale copy of it, and a snapshot keeps it.
TEST(SessionProjection, ALogoutIsRememberedUntilItsSessionWouldHaveExpired) {
  auto ended_by = [](net::auth_event e, int64_t until) {
    e.until_ms = until;
    return e;
  };
  auto p = fold({login("alice", 1, t0_ms, t0_ms + hour), login("alice", 2, t0_ms, t0_ms + hour),
                 ended_by(logout("alice", 1), t0_ms + hour),
                 ended_by(logout("alice", 3), t0_ms + 2 * hour),  // ended elsewhere, never live here
                 logout("alice", 2)});                         // an old record: no until
  ASSERT_EQ(p.tombstones().size(), 3u);
  EXPECT_EQ(p.tombstones().at(key_of(1)), t0_ms + hour);
  EXPECT_EQ(p.tombstones().at(key_of(3)), t0_ms + 2 * hour);
  EXPECT_EQ(p.tombstones().at(key_of(2)), t0_ms + hour);  // the session's own expiry
  auto image = p.image(t0_ms + hour);  // sessions 1 and 2 would have expired by then
  ASSERT_EQ(image.tombstones.size(), 1u);
  EXPECT_EQ(image.tombstones[0].key, key_of(3));
  // A projection started from that image still has it.
  auto again = session_projection(std::move(image));
  EXPECT_EQ(again.tombstones().count(key_of(3)), 1u);
  again.apply(again.position(), login("alice", 3, t0_ms, t0_ms + hour));
  EXPECT_FALSE(has(again, 3));
}

TEST(SessionProjection, RemovingOrDisablingAUserEndsEveryOneOfTheirSessions) {
  for (const char* how : {"removed", "disabled"}) {
    auto p = fold({login("alice", 1, t0_ms, t0_ms + hour), login("alice", 2, t0_ms, t0_ms + hour),
                   login("bob", 3, t0_ms, t0_ms + hour), user_changed("alice", how)});
    EXPECT_FALSE(has(p, 1)) << how;
    EXPECT_FALSE(has(p, 2)) << how;
    EXPECT_TRUE(has(p, 3)) << how << ": other users keep theirs";
  }
}

TEST(SessionProjection, OtherUserChangesLeaveSessionsAlone) {
  for (const char* how : {"added", "enabled", "roles", "password"}) {
    auto p = fold({login("alice", 1, t0_ms, t0_ms + hour), user_changed("alice", how)});
    EXPECT_TRUE(has(p, 1)) << how;
  }
}

TEST(SessionProjection, ALoginAfterTheUserWasRemovedAndAddedAgainKeepsItsSession) {
  auto p = fold({login("alice", 1, t0_ms, t0_ms + hour), user_changed("alice", "removed"),
                 user_changed("alice", "added"), login("alice", 2, t0_ms + 1, t0_ms + hour)});
  EXPECT_FALSE(has(p, 1));
  EXPECT_TRUE(has(p, 2));
  // The other order: the removal ends the session opened before it.
  EXPECT_FALSE(has(fold({user_changed("alice", "added"), login("alice", 2, t0_ms, t0_ms + hour),
                         user_changed("alice", "removed")}),
                   2));
}

TEST(SessionProjection, RevokeEndsSessionsThroughTheirLogoutRecords) {
  auto revoked = on_session(event_kind::logout, "alice", 1);
  revoked.reason = "revoked";
  auto summary = event(event_kind::sessions_revoked, "alice", "by=ops");
  summary.count = 2;
  auto p = fold({login("alice", 1, t0_ms, t0_ms + hour), login("alice", 2, t0_ms, t0_ms + hour), revoked, summary});
  EXPECT_FALSE(has(p, 1));
  // The summary record restates what the logouts did; it ends nothing by itself
  // (each session's logout is on its owner, which may be another node).
  EXPECT_TRUE(has(p, 2));
}

TEST(SessionProjection, RecordsNotAboutSessionsOrWithoutAValidDigestChangeNothing) {
  auto bad = login("alice", 2, t0_ms, t0_ms + hour);
  bad.session = "not-a-digest";
  auto p = fold({login("alice", 1, t0_ms, t0_ms + hour), bad,
                 event(event_kind::login_failed, "alice", "bad_password"), event(event_kind::token_refused),
                 event(event_kind::config_reloaded), event(event_kind::node_started),
                 event(event_kind::key_rotated, "", "primary=2")});
  EXPECT_EQ(p.sessions().size(), 1u);
  EXPECT_TRUE(p.lockouts().empty());
  EXPECT_EQ(p.position(), 8u);  // every record counts towards the position
}

TEST(SessionProjection, RecordsBeforeThePositionAreIgnoredSoAReplayMayStartEarly) {
  session_projection p;
  p.apply(1, login("alice", 1, t0_ms, t0_ms + hour));
  p.apply(2, logout("alice", 1));
  p.apply(1, login("alice", 1, t0_ms, t0_ms + hour));  // seen again: already folded in
  EXPECT_FALSE(has(p, 1));
  EXPECT_EQ(p.position(), 3u);
}

// -- lockouts ------------------------------------------------------------------

TEST(SessionProjection, LockoutsStartAndEndByTheKeyTheirReasonNames) {
  auto p = fold({lockout(event_kind::lockout_started, "user", "alice", "10.0.0.1", t0_ms + 1000),
                 lockout(event_kind::lockout_started, "ip", "alice", "10.0.0.1", t0_ms + 2000),
                 lockout(event_kind::lockout_started, "user_ip", "alice", "10.0.0.1", t0_ms + 3000)});
  using id = session_projection::lockout_id;
  ASSERT_EQ(p.lockouts().size(), 3u);
  EXPECT_EQ(p.lockouts().at(id{0, "alice", ""}).until_ms, t0_ms + 1000);  // a user lockout: any IP
  EXPECT_EQ(p.lockouts().at(id{1, "", "10.0.0.1"}).until_ms, t0_ms + 2000);  // an IP lockout: any user
  EXPECT_EQ(p.lockouts().at(id{2, "alice", "10.0.0.1"}).until_ms, t0_ms + 3000);
  p.apply(4, lockout(event_kind::lockout_ended, "ip", "bob", "10.0.0.1"));
  EXPECT_EQ(p.lockouts().size(), 2u);
  EXPECT_EQ(p.lockouts().count(id{1, "", "10.0.0.1"}), 0u);
  p.apply(5, lockout(event_kind::lockout_ended, "lockout:user", "alice", ""));  // not a key kind
  EXPECT_EQ(p.lockouts().size(), 2u);
}

TEST(SessionProjection, ALockoutStartedAgainBeforeItEndedIsTheNextLevelOfBackoff) {
  auto again = fold({lockout(event_kind::lockout_started, "user", "bob", "", t0_ms + 1000),
                     lockout(event_kind::lockout_started, "user", "bob", "", t0_ms + 5000)});
  auto& l = again.lockouts().begin()->second;
  EXPECT_EQ(l.level, 2u);
  EXPECT_EQ(l.until_ms, t0_ms + 5000);
  auto after_end = fold({lockout(event_kind::lockout_started, "user", "bob", "", t0_ms + 1000),
                         lockout(event_kind::lockout_ended, "user", "bob", ""),
                         lockout(event_kind::lockout_started, "user", "bob", "", t0_ms + 5000)});
  EXPECT_EQ(after_end.lockouts().begin()->second.level, 1u);
}

TEST(SessionProjection, ALockoutStartedAfterThePreviousOneWasOverStartsAgainAtLevelOne) {
  // No lockout_ended between them: the node was down when the first ran out,
  // and recovery did not restore it, so the limiter never saw it end.
  auto next = lockout(event_kind::lockout_started, "user", "bob", "", t0_ms + 20'000);
  next.time_ms = t0_ms + 10'000;
  auto p = fold({lockout(event_kind::lockout_started, "user", "bob", "", t0_ms + 1000), next});
  EXPECT_EQ(p.lockouts().begin()->second.level, 1u);
  EXPECT_EQ(p.lockouts().begin()->second.until_ms, t0_ms + 20'000);
}

// -- what is written and restored: in force at `now` ----------------------------

TEST(SessionProjection, TheImageLeavesOutExpiredSessionsAndEndedLockouts) {
  int64_t now = t0_ms + hour;
  auto p = fold({login("alice", 1, t0_ms, now), login("alice", 2, t0_ms, now + 1),
                 lockout(event_kind::lockout_started, "user", "alice", "", now),
                 lockout(event_kind::lockout_started, "ip", "", "10.0.0.9", now + 1)});
  auto img = p.image(now);
  EXPECT_EQ(img.log_position, 5u);
  ASSERT_EQ(img.sessions.size(), 1u);  // expiring exactly now is expired
  EXPECT_EQ(img.sessions[0].key, key_of(2));
  ASSERT_EQ(img.lockouts.size(), 1u);
  EXPECT_EQ(img.lockouts[0].ip, "10.0.0.9");
  EXPECT_EQ(p.sessions().size(), 2u);  // the fold itself forgets nothing early
}

TEST(SessionProjection, AFoldStartedFromASnapshotImageContinuesIt) {
  std::vector<net::auth_event> log = {
      login("alice", 1, t0_ms, t0_ms + hour), login("bob", 2, t0_ms, t0_ms + hour),
      lockout(event_kind::lockout_started, "user", "carol", "", t0_ms + hour),
      refresh("alice", 1, t0_ms + 2 * hour), logout("bob", 2)};
  auto whole = fold(log);
  auto head = fold({log.begin(), log.begin() + 3});
  session_projection p(head.image(t0_ms));
  EXPECT_EQ(p.position(), 4u);
  for (size_t i = 0; i < log.size(); ++i)  // a replay may start before the position
    p.apply(i + 1, log[i]);
  EXPECT_EQ(sessions_in(p.image(t0_ms)), sessions_in(whole.image(t0_ms)));
  EXPECT_EQ(lockouts_in(p.image(t0_ms)), lockouts_in(whole.image(t0_ms)));
}

}  // namespace
}  // namespace castellan::actors

// -- from disk: the real audit log and snapshot files ----------------------------

namespace castellan::actors {
namespace {

class ReplayTest : public ::testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() /
                 ("castellan-replay-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::string audit_dir = (dir / "audit").string();
  std::string snapshot_dir = (dir / "snapshots").string();
  std::unique_ptr<audit_log> log;

  void SetUp() override {
    fs::remove_all(dir);
    audit_recovery r;
    log = audit_log::open({audit_dir, 4096, 0, 0, false, nullptr}, r);  // small segments: many of them
  }
  void TearDown() override {
    log.reset();
    fs::remove_all(dir);
  }

  // Appends and commits records; returns the index of the first.
  uint64_t write(const std::vector<net::auth_event>& events) {
    uint64_t first = log->next_index();
    for (auto& e : events) {
      msgpack::sbuffer body;
      msgpack::pack(body, e);
      log->append(body.data(), body.size());
    }
    log->commit();
    return first;
  }
  session_projection replay_all(replay_report& report, uint64_t until = 0) {
    return replay(snapshot_dir, audit_dir, until, report);
  }
};

// A day of traffic: logins, refreshes, logouts, expiries, a removed user and
// lockouts, `n` rounds of it, numbered from `from` so that rounds differ.
std::vector<net::auth_event> traffic(int from, int n) {
  std::vector<net::auth_event> out;
  for (int i = from; i < from + n; ++i) {
    auto user = "user-" + std::to_string(i % 5);
    int64_t at = t0_ms + i * 1000;
    size_t round_first = out.size();
    out.push_back(login(user, i, at, at + (i % 3 == 0 ? 500 : hour)));  // some are short-lived
    if (i % 4 == 0)
      out.push_back(refresh(user, i, at + 2 * hour));
    if (i % 6 == 1)
      out.push_back(logout(user, i));
    if (i % 7 == 2)
      out.push_back(expired(user, i - 1));
    if (i % 11 == 5)
      out.push_back(user_changed("user-" + std::to_string((i + 1) % 5), "disabled"));
    if (i % 5 == 3)
      out.push_back(lockout(event_kind::lockout_started, "ip", "", "10.0.0." + std::to_string(i % 4),
                            at + (i % 2 ? 100 : hour)));
    if (i % 10 == 9)
      out.push_back(lockout(event_kind::lockout_ended, "ip", "", "10.0.0." + std::to_string(i % 4)));
    for (size_t j = round_first; j < out.size(); ++j)
      if (out[j].type() != event_kind::login_ok)
        out[j].time_ms = at;
  }
  return out;
}

using records = std::vector<net::auth_event>;
records concat(records a, const records& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST_F(ReplayTest, ReplayingTheWholeLogGivesTheFoldOfEveryRecord) {
  auto records = traffic(0, 200);
  write(records);
  replay_report report;
  auto p = replay_all(report);
  EXPECT_TRUE(report.snapshot_file.empty());
  EXPECT_EQ(report.records_replayed, records.size());
  EXPECT_TRUE(report.log_problems.empty());
  int64_t now = t0_ms + 100'000;
  auto whole = fold(records);
  EXPECT_FALSE(sessions_in(whole.image(now)).empty());
  EXPECT_EQ(sessions_in(p.image(now)), sessions_in(whole.image(now)));
  EXPECT_EQ(lockouts_in(p.image(now)), lockouts_in(whole.image(now)));
  EXPECT_EQ(p.position(), records.size() + 1);
}

TEST_F(ReplayTest, ASnapshotPlusTheTailEqualsTheFoldOfTheWholeLog) {
  auto head = traffic(0, 150), tail = traffic(150, 150);
  write(head);
  int64_t snapshot_at = t0_ms + 150'000;
  write_snapshot(snapshot_dir, fold(head).image(snapshot_at), 2);
  uint64_t tail_first = write(tail);
  replay_report report;
  auto p = replay_all(report);
  EXPECT_FALSE(report.snapshot_file.empty());
  EXPECT_EQ(report.snapshot_position, tail_first);
  EXPECT_EQ(report.records_replayed, tail.size());  // only the tail was read
  int64_t now = t0_ms + 300'000;
  auto whole = fold(concat(head, tail));
  EXPECT_EQ(sessions_in(p.image(now)), sessions_in(whole.image(now)));
  EXPECT_EQ(lockouts_in(p.image(now)), lockouts_in(whole.image(now)));
}

TEST_F(ReplayTest, ADamagedNewestSnapshotFallsBackToTheOlderOneAndStillAgrees) {
  auto a = traffic(0, 100), b = traffic(100, 100), c = traffic(200, 100);
  write(a);
  write_snapshot(snapshot_dir, fold(a).image(t0_ms + 100'000), 2);
  write(b);
  auto newest = write_snapshot(snapshot_dir, fold(concat(a, b)).image(t0_ms + 200'000), 2);
  ASSERT_GT(newest, 0u);
  write(c);
  auto newest_file = fs::path(snapshot_dir) / snapshot_format::file_name(a.size() + b.size() + 1);
  ASSERT_TRUE(fs::exists(newest_file));
  fs::resize_file(newest_file, fs::file_size(newest_file) - 1);
  replay_report report;
  auto p = replay_all(report);
  ASSERT_EQ(report.damaged.size(), 1u);
  EXPECT_EQ(report.snapshot_position, a.size() + 1);
  EXPECT_EQ(report.records_replayed, b.size() + c.size());
  int64_t now = t0_ms + 300'000;
  auto whole = fold(concat(concat(a, b), c));
  EXPECT_EQ(sessions_in(p.image(now)), sessions_in(whole.image(now)));
  EXPECT_EQ(lockouts_in(p.image(now)), lockouts_in(whole.image(now)));
}

TEST_F(ReplayTest, ASnapshotTakenAfterALockoutRanOutAgreesWithTheLogAboutTheNextOne) {
  std::vector<net::auth_event> head = {
      lockout(event_kind::lockout_started, "user", "bob", "", t0_ms + 1000)};
  auto again = lockout(event_kind::lockout_started, "user", "bob", "", t0_ms + 20'000);
  again.time_ms = t0_ms + 10'000;
  write(head);
  write_snapshot(snapshot_dir, fold(head).image(t0_ms + 5000), 2);  // the first is over: left out
  write({again});
  replay_report report;
  auto p = replay_all(report);
  ASSERT_FALSE(report.snapshot_file.empty());
  auto whole = fold({head[0], again});
  EXPECT_EQ(lockouts_in(p.image(t0_ms + 10'000)), lockouts_in(whole.image(t0_ms + 10'000)));
}

TEST_F(ReplayTest, ReplayStopsBeforeTheRecordItWasToldTo) {
  auto records = traffic(0, 100);
  write(records);
  size_t half = records.size() / 2;
  replay_report report;
  auto p = replay_all(report, half + 1);
  EXPECT_EQ(p.position(), half + 1);
  EXPECT_EQ(report.records_replayed, half);
  auto head = fold({records.begin(), records.begin() + static_cast<long>(half)});
  EXPECT_EQ(sessions_in(p.image(t0_ms)), sessions_in(head.image(t0_ms)));
}

TEST_F(ReplayTest, ARecordThatIsNotAnEventIsCountedAndSkipped) {
  write({login("alice", 1, t0_ms, t0_ms + hour)});
  msgpack::sbuffer junk;
  msgpack::pack(junk, std::string("not an event"));
  log->append(junk.data(), junk.size());
  log->commit();
  write({logout("alice", 1), login("alice", 2, t0_ms, t0_ms + hour)});
  replay_report report;
  auto p = replay_all(report);
  EXPECT_EQ(report.undecodable, 1u);
  EXPECT_EQ(report.records_replayed, 3u);
  EXPECT_FALSE(has(p, 1));
  EXPECT_TRUE(has(p, 2));
}

}  // namespace
}  // namespace castellan::actors
