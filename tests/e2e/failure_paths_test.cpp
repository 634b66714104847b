// Nothing a client is told is false, on the failure paths of one node. The
// disk fails a commit through the storage fault seam (debug_crash targets
// audit_write, audit_sync, audit_disk_full, audit_sync_stall; testing.
// fault_injection): a write answered `unavailable` changed nothing, now and
// after a restart, clean or kill -9; no write is answered before its record
// is synced; an expired session answers `expired` until the sweep ends it.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "net/wall_clock.hpp"
#include "tests/e2e/authd_process.hpp"

namespace castellan::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Arms the next audit commit to fail the way `fault` says.
void arm(net::client& c, const std::string& admin, const std::string& fault) {
  auto r = c.call(net::debug_crash_request{0, admin, fault});
  ASSERT_TRUE(r.ok) << r.error << " " << r.message;
}

// After a failed commit the writer retries once a second until it can write.
bool writable_again(net::client& c) {
  return eventually([&] { return c.call(net::health_request{0}).as<net::health_reply>().audit_writable; },
                    10s);
}

int64_t expiry_of(net::client& c, const std::string& token) {
  auto r = c.validate(token);
  return r.ok ? r.as<net::validate_reply>().expires_at_ms : -1;
}

std::unique_ptr<authd_process> restart(std::unique_ptr<authd_process> node, bool hard) {
  auto dir = node->dir();
  if (hard)
    node->kill_hard();
  else
    EXPECT_EQ(node->stop(), 0);
  node.reset();
  return authd_process::restart_in(dir);
}

struct fault_case {
  std::string fault;
  bool hard_restart;
};

void PrintTo(const fault_case& f, std::ostream* os) {
  *os << f.fault << (f.hard_restart ? ", kill -9" : ", SIGTERM");
}

class UnavailableChangesNothing : public testing::TestWithParam<fault_case> {};

// Every write op, each refused by one failed commit: the state the client
// sees afterwards, and the state after a restart, is the state before.
TEST_P(UnavailableChangesNothing, NowAndAfterARestart) {
  auto [fault, hard] = GetParam();
  auto node = std::make_unique<authd_process>(drills);
  node->keep_dir();
  auto c = node->connect();
  auto admin = token_of(c, "ops", ops_password);
  auto alice = token_of(c, "alice", alice_password);
  auto expires = expiry_of(c, alice);
  ASSERT_GT(expires, 0);
  std::this_thread::sleep_for(5ms);  // a refresh now would move the expiry
  auto held = metric(node->monitor_port(), "castellan_sessions_active");
  ASSERT_EQ(held, 2);

  arm(c, admin, fault);
  EXPECT_EQ(c.refresh(alice).error, "unavailable");
  EXPECT_EQ(expiry_of(c, alice), expires) << "an unavailable refresh moved the expiry";
  ASSERT_TRUE(writable_again(c));

  arm(c, admin, fault);
  EXPECT_EQ(c.logout(alice).error, "unavailable");
  EXPECT_EQ(expiry_of(c, alice), expires) << "an unavailable logout ended the session";
  ASSERT_TRUE(writable_again(c));

  arm(c, admin, fault);
  EXPECT_EQ(c.login("alice", alice_password).error, "unavailable");
  EXPECT_EQ(metric(node->monitor_port(), "castellan_sessions_active"), held);
  ASSERT_TRUE(writable_again(c));

  // More of alice's sessions, spread over the shards: one failed commit fails
  // the revoke of them all.
  std::vector<std::string> more;
  for (int i = 0; i < 8; ++i)
    more.push_back(token_of(c, "alice", alice_password));
  arm(c, admin, fault);
  EXPECT_EQ(c.call(net::revoke_user_request{0, admin, "alice"}).error, "unavailable");
  EXPECT_EQ(expiry_of(c, alice), expires) << "an unavailable revoke_user ended a session";
  for (auto& t : more)
    EXPECT_TRUE(c.validate(t).ok) << "an unavailable revoke_user ended part of the user";
  ASSERT_TRUE(writable_again(c));
  held += 8;

  auto dir = node->dir();
  node = restart(std::move(node), hard);
  auto c2 = node->connect();
  EXPECT_EQ(expiry_of(c2, alice), expires) << "a restart brought back a change told unavailable";
  EXPECT_TRUE(c2.validate(admin).ok);
  for (auto& t : more)
    EXPECT_TRUE(c2.validate(t).ok);
  EXPECT_EQ(metric(node->monitor_port(), "castellan_sessions_active"), held);
  auto verify = run_program({CASTELLAN_AUTHCTL, "audit", "verify", (dir / "audit").string()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  node.reset();
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(DiskFaults, UnavailableChangesNothing,
                         testing::Values(fault_case{"audit_write", true}, fault_case{"audit_sync", true},
                                         fault_case{"audit_disk_full", true},
                                         fault_case{"audit_sync", false}),
                         [](const auto& info) {
                           return info.param.fault + (info.param.hard_restart ? "_kill9" : "_sigterm");
                         });

// Zeroes what a power loss would take: the bytes of `segment` from `from`
// (the page cache that was never synced).
void lose_unsynced(const fs::path& segment, uint64_t from) {
  int fd = ::open(segment.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  auto size = static_cast<uint64_t>(::lseek(fd, 0, SEEK_END));
  std::string zeros(std::min<uint64_t>(size - from, 1 << 20), '\0');
  ASSERT_EQ(::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(from)),
            static_cast<ssize_t>(zeros.size()));
  ::close(fd);
}

// kill -9 keeps the page cache, so it cannot show a missing sync. Here the
// sync of one batch stalls: its records are written, not synced. No write in
// it may be answered meanwhile; then the node dies, the unsynced bytes are
// lost as in a power cut, and every write answered before is still there.
TEST(PowerLoss, NoWriteIsAnsweredBeforeItsRecordIsSynced) {
  auto node = std::make_unique<authd_process>(drills);
  node->keep_dir();
  auto dir = node->dir();
  auto c = node->connect();
  auto admin = token_of(c, "ops", ops_password);
  std::vector<std::string> acknowledged;
  for (int i = 0; i < 5; ++i)
    acknowledged.push_back(token_of(c, "alice", alice_password));
  auto before = expiry_of(c, acknowledged[0]);
  std::this_thread::sleep_for(5ms);

  arm(c, admin, "audit_sync_stall");
  auto writer = node->connect();
  writer.queue(net::refresh_request{0, acknowledged[0]});
  writer.queue(net::logout_request{0, acknowledged[1]});
  writer.queue(net::login_request{0, "alice", alice_password, ""});
  writer.flush();
  // The stall lasts 5 s: 2 s of silence shows the replies wait for the sync.
  EXPECT_FALSE(writer.receive(2s).has_value()) << "a write was answered before its record was synced";

  std::smatch m;
  auto log = node->stderr_text();
  ASSERT_TRUE(std::regex_search(log, m, std::regex("stalled before its fdatasync \\(injected\\): (\\S+) "
                                                   "synced up to byte (\\d+)")))
      << log;
  fs::path segment = m[1].str();
  uint64_t synced = std::stoull(m[2].str());
  node->kill_hard();
  node.reset();
  lose_unsynced(segment, synced);

  auto restarted = authd_process::restart_in(dir);
  auto c2 = restarted->connect();
  EXPECT_EQ(expiry_of(c2, acknowledged[0]), before);
  for (auto& t : acknowledged)
    EXPECT_TRUE(c2.validate(t).ok) << "an acknowledged login was lost with the page cache";
  EXPECT_EQ(metric(restarted->monitor_port(), "castellan_sessions_active"), 6);  // 5 + the admin
  auto verify = run_program({CASTELLAN_AUTHCTL, "audit", "verify", (dir / "audit").string()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  restarted.reset();
  fs::remove_all(dir);
}

// protocol.md: `expired` until the sweeper removes the session; then
// `invalid_token`, counted as ended by expiry and recorded as session_expired.
TEST(Expiry, ExpiredIsAnsweredUntilTheSweepThenTheEndIsCountedAndRecorded) {
  authd_process node(drills + "[sessions]\nttl_s = 1\nsweep_interval_ms = 4000\n");
  auto c = node.connect();
  auto alice = token_of(c, "alice", alice_password);
  auto expires = expiry_of(c, alice);
  ASSERT_TRUE(eventually([&] { return c.validate(alice).error == "expired"; }, 3s));
  EXPECT_GT(net::wall_ms(), expires - 1);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.validate(alice).error, "expired");
    EXPECT_EQ(c.refresh(alice).error, "expired");
    EXPECT_EQ(c.logout(alice).error, "expired");
  }
  EXPECT_EQ(metric(node.monitor_port(), "castellan_sessions_active"), 1);
  ASSERT_TRUE(eventually([&] { return c.validate(alice).error == "invalid_token"; }, 10s));
  EXPECT_EQ(metric(node.monitor_port(), "castellan_sessions_active"), 0);
  EXPECT_EQ(metric(node.monitor_port(), "castellan_sessions_ended_total{reason=\"expired\"}"), 1);
  EXPECT_EQ(metric(node.monitor_port(), "castellan_sessions_ended_total{reason=\"logout\"}"), 0);
  ASSERT_TRUE(eventually([&] {
    auto tail = run_program({CASTELLAN_AUTHCTL, "audit", "tail", "--kind", "session_expired",
                             node.audit_dir()});
    return tail.out.find("alice") != std::string::npos;
  }, 5s));
}

}  // namespace
}  // namespace castellan::test
