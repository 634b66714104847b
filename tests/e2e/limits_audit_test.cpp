// Rate limits and the audit log against real authd processes: lockouts,
// per-user limits across IPs, kill -9 during logins, tampering detected by
// `authctl audit verify`, a torn tail cut on start, and failing closed when
// the audit directory cannot be written.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/storage/audit_reader.hpp"
#include "net/key_file.hpp"
#include "tests/e2e/authd_process.hpp"

namespace castellan::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Limits far above what a test does, except where a test sets its own.
std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The session digests of every login_ok record, read with authctl.
std::set<std::string> login_digests(const std::string& audit_dir) {
  auto r = run_program({CASTELLAN_AUTHCTL, "--json", "audit", "tail", audit_dir, "--kind", "login_ok"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> out;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty())
      out.insert(nlohmann::json::parse(line).at("session").get<std::string>());
  return out;
}

std::string digest_of(const net::keyring& keys, const std::string& token) {
  auto key = keys.verify(token);
  return key ? net::session_digest(*key) : "";
}

// chattr +i makes a file or directory unwritable even for root and even
// through descriptors already open: what a read-only remount does to a node.
struct immutable_guard {
  std::vector<std::string> paths;
  explicit immutable_guard(std::vector<std::string> p) : paths(std::move(p)) {
    for (auto& path : paths)
      EXPECT_EQ(run_program({"/usr/bin/chattr", "+i", path}).exit_code, 0) << "chattr +i " << path;
  }
  void release() {
    for (auto& path : paths)
      run_program({"/usr/bin/chattr", "-i", path});
    paths.clear();
  }
  ~immutable_guard() { release(); }
};

TEST(RateLimits, TwentyWrongPasswordsLockTheUserOutUntilTheBackoff) {
  authd_process node(
      "[limiter.user]\nrate_per_s = 1000\nburst = 1000\nlockout_after = 20\nlockout_base_ms = 1500\n"
      "[limiter.ip]\nrate_per_s = 1000\nburst = 1000\nlockout_after = 0\n"
      "[limiter.user_ip]\nrate_per_s = 1000\nburst = 1000\nlockout_after = 0\n");
  auto c = node.connect();
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(c.login("alice", "wrong-" + std::to_string(i)).error, "bad_credentials") << i;
  auto locked = c.login("alice", alice_password);
  EXPECT_EQ(locked.error, "rate_limited");
  EXPECT_GT(locked.retry_after_ms, 0u);
  EXPECT_LE(locked.retry_after_ms, 1500u);
  // Other users are not affected.
  EXPECT_EQ(c.login("carol", carol_password).error, "forbidden");
  EXPECT_TRUE(eventually([&] { return c.login("alice", alice_password).ok; }, 5s));
  auto events = run_program({CASTELLAN_AUTHCTL, "audit", "tail", node.audit_dir(), "--kind",
                             "lockout_started"});
  EXPECT_NE(events.out.find("user=alice"), std::string::npos) << events.out;
}

TEST(RateLimits, BadLoginsFromManyIpsAreLimitedPerUser) {
  authd_process node(
      "[limiter.user]\nrate_per_s = 0.5\nburst = 10\nlockout_after = 0\n"
      "[limiter.ip]\nrate_per_s = 1000\nburst = 1000\nlockout_after = 0\n"
      "[limiter.user_ip]\nrate_per_s = 1000\nburst = 1000\nlockout_after = 0\n");
  auto c = node.connect();
  int refused = 0, checked = 0;
  for (int i = 0; i < 30; ++i) {
    auto r = c.login("alice", "wrong", "198.51.100." + std::to_string(i));
    refused += r.error == "rate_limited";
    checked += r.error == "bad_credentials";
  }
  EXPECT_EQ(checked, 10);  // the burst, then the user's bucket is empty
  EXPECT_EQ(refused, 20);
  // The same IPs may still serve another user.
  EXPECT_EQ(c.login("carol", "wrong", "198.51.100.1").error, "bad_credentials");
}

TEST(RateLimits, SighupAppliesNewPoliciesAndRecordsTheReload) {
  authd_process node(generous_limits);
  auto c = node.connect();
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(c.login("alice", "wrong").error, "bad_credentials");
  auto text = read_file(node.config_file());
  const std::string loose = "[limiter.user]\nrate_per_s = 100000\nburst = 100000\n";
  auto at = text.find(loose);
  ASSERT_NE(at, std::string::npos);
  auto broken = text + "\n[limiter.user]\nburst = 1\n";  // duplicate table: a bad file
  std::ofstream(node.config_file()) << broken;
  node.reload();
  text.replace(at, loose.size(), "[limiter.user]\nrate_per_s = 0.01\nburst = 2\n");
  EXPECT_TRUE(eventually([&] {
    return node.stderr_text().find("config not reloaded") != std::string::npos;
  }, 5s)) << node.stderr_text();
  EXPECT_EQ(c.login("alice", "wrong").error, "bad_credentials");  // still the old policy
  std::ofstream(node.config_file()) << text;
  node.reload();
  EXPECT_TRUE(eventually([&] {
    return node.stderr_text().find("applied limiter") != std::string::npos;
  }, 5s)) << node.stderr_text();
  int refused = 0;
  for (int i = 0; i < 5; ++i)
    refused += c.login("alice", "wrong").error == "rate_limited";
  EXPECT_GE(refused, 3);
  auto events = run_program({CASTELLAN_AUTHCTL, "audit", "tail", node.audit_dir(), "--kind",
                             "config_reloaded"});
  EXPECT_NE(events.out.find("applied=limiter"), std::string::npos) << events.out;
}

// One limiter shard of 100 keys (sweeps off for the test's length); alice is
// locked out for a minute after 3 failures.
const std::string small_limiter =
    "[limiter]\nshards = 1\nmax_keys = 100\nsweep_interval_ms = 3600000\n"
    "[limiter.user]\nrate_per_s = 1000\nburst = 1000\nlockout_after = 3\nlockout_base_ms = 60000\n"
    "[limiter.user_ip]\nrate_per_s = 1000\nburst = 1000\nlockout_after = 0\n";

// From a new address each time: only the user key is locked, and no IP's
// bucket runs dry.
void lock_alice_out(net::client& c) {
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(c.login("alice", "wrong", "192.0.2." + std::to_string(i)).error, "bad_credentials") << i;
  ASSERT_EQ(c.login("alice", alice_password, "192.0.2.3").error, "rate_limited");
}

void expect_alice_still_locked_out(net::client& c) {
  auto r = c.login("alice", alice_password, "192.0.2.4");
  EXPECT_EQ(r.error, "rate_limited") << r.message;
  EXPECT_GT(r.retry_after_ms, 0u);
  EXPECT_LE(r.retry_after_ms, 60000u);
}

// The cheap attack: user names are free to invent, and each login checks
// (so remembers) new keys before any password is hashed. With the IP's
// bucket empty they cost the node nothing but a table slot, and they push
// every other key out; never a lockout.
TEST(RateLimits, ALockoutOutlivesAFloodOfInventedUserNames) {
  authd_process node(small_limiter + "[limiter.ip]\nrate_per_s = 0.01\nburst = 1\nlockout_after = 0\n");
  auto c = node.connect();
  lock_alice_out(c);
  for (int i = 0; i < 1000; ++i)
    c.queue(net::login_request{0, "invented-" + std::to_string(i), "guess", "198.51.100.7"});
  c.flush();
  int refused = 0;
  for (int i = 0; i < 1000; ++i) {
    auto r = c.receive(10s);
    ASSERT_TRUE(r) << "reply " << i << " of 1000 missing";
    refused += r->error == "rate_limited";
  }
  EXPECT_GE(refused, 990);  // by the IP's bucket, before any password check
  EXPECT_GE(metric(node.monitor_port(), "castellan_limiter_evictions_total"), 1000);
  expect_alice_still_locked_out(c);
}

// The expensive attack: every invented name fails a password check, so its
// key remembers a failure and is protected too. Once the shard holds
// nothing else, a name it does not know is refused (fail closed) rather
// than a lockout lifted.
TEST(RateLimits, WhenOnlyProtectedKeysAreLeftNewNamesAreRefusedNotLockoutsLifted) {
  authd_process node(small_limiter + "[limiter.ip]\nrate_per_s = 100000\nburst = 100000\nlockout_after = 0\n");
  auto c = node.connect();
  lock_alice_out(c);
  int failed = 0, full = 0;
  for (int i = 0; i < 300; ++i) {
    auto r = c.login("invented-" + std::to_string(i), "guess", "198.51.100.7");
    failed += r.error == "bad_credentials";
    if (r.error == "unavailable") {
      EXPECT_EQ(r.message, "rate limiter full; retry later");
      ++full;
    }
  }
  EXPECT_GT(failed, 50);
  EXPECT_LT(failed, 100);  // at most one slot each
  EXPECT_EQ(failed + full, 300);
  EXPECT_GE(metric(node.monitor_port(), "castellan_limiter_full_refusals_total"), full);  // per key
  EXPECT_GE(metric(node.monitor_port(), "castellan_limiter_evictions_total"), 50);
  expect_alice_still_locked_out(c);
  EXPECT_EQ(c.login("ops", ops_password, "192.0.2.9").error, "unavailable");  // the cost: fail closed
}

// `clients` connections logging alice in as fast as they can, keeping the
// token of every acknowledged login, until finish(); the node may die or
// stop under them (their connection then ends: expected).
class login_load {
 public:
  login_load(authd_process& node, int clients) {
    for (int i = 0; i < clients; ++i)
      clients_.emplace_back([this, &node] { run(node); });
  }
  ~login_load() { finish(); }

  // Whether `count` logins were acknowledged within 30 s.
  bool await(size_t count) {
    return eventually([&] {
      std::lock_guard<std::mutex> guard(mutex_);
      return tokens_.size() >= count;
    }, 30s);
  }

  // Stops the clients; the tokens of every acknowledged login.
  std::vector<std::string> finish() {
    stop_ = true;
    for (auto& t : clients_)
      if (t.joinable())
        t.join();
    std::lock_guard<std::mutex> guard(mutex_);
    return tokens_;
  }

 private:
  void run(authd_process& node) {
    try {
      auto c = node.connect();
      while (!stop_) {
        auto r = c.login("alice", alice_password, "", 5s);
        if (!r.ok)
          continue;
        std::lock_guard<std::mutex> guard(mutex_);
        tokens_.push_back(r.as<net::login_reply>().token);
      }
    } catch (const net::client_error&) {
    }
  }

  std::mutex mutex_;
  std::vector<std::string> tokens_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> clients_;
};

TEST(Audit, KillDashNineDuringLoginsLosesNoAcknowledgedLogin) {
  auto node = std::make_unique<authd_process>(generous_limits);
  node->keep_dir();
  auto dir = node->dir();
  login_load load(*node, 8);
  ASSERT_TRUE(load.await(200));
  node->kill_hard();
  auto tokens = load.finish();
  node.reset();
  auto restarted = authd_process::restart_in(dir);
  auto verify = run_program({CASTELLAN_AUTHCTL, "audit", "verify", restarted->audit_dir()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  auto keys = net::load_key_file((dir / "keys.json").string());
  auto recorded = login_digests(restarted->audit_dir());
  size_t missing = 0;
  for (auto& t : tokens)
    missing += !recorded.count(digest_of(keys, t));
  EXPECT_EQ(missing, 0u) << "of " << tokens.size() << " acknowledged logins";
  EXPECT_TRUE(restarted->connect().login("alice", alice_password).ok);
  restarted.reset();
  fs::remove_all(dir);
}

// SIGTERM stops the node in reverse start order: the front door closes
// first, queued work finishes, and the audit writer, which started first,
// commits everything and stops last. So under load every acknowledged login
// is in the log, and the log ends with node_stopping.
TEST(Audit, SigtermDuringLoginsKeepsEveryAcknowledgedLoginAndEndsTheLog) {
  auto node = std::make_unique<authd_process>(generous_limits);
  node->keep_dir();
  auto dir = node->dir();
  login_load load(*node, 8);
  ASSERT_TRUE(load.await(100));
  EXPECT_EQ(node->stop(), 0);
  auto tokens = load.finish();
  auto audit_dir = node->audit_dir();
  node.reset();
  auto verify = run_program({CASTELLAN_AUTHCTL, "audit", "verify", audit_dir});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  auto keys = net::load_key_file((dir / "keys.json").string());
  auto recorded = login_digests(audit_dir);
  size_t missing = 0;
  for (auto& t : tokens)
    missing += !recorded.count(digest_of(keys, t));
  EXPECT_EQ(missing, 0u) << "of " << tokens.size() << " acknowledged logins";
  auto last = run_program({CASTELLAN_AUTHCTL, "--json", "audit", "tail", audit_dir, "-n", "1"});
  ASSERT_EQ(last.exit_code, 0) << last.err;
  EXPECT_EQ(nlohmann::json::parse(last.out).at("kind"), "node_stopping") << last.out;
  fs::remove_all(dir);
}

TEST(Audit, VerifyNamesARecordWithAFlippedByte) {
  authd_process node(generous_limits);
  auto c = node.connect();
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(c.login("alice", alice_password).ok);
  node.stop();
  auto segment = actors::list_segments(node.audit_dir()).front();
  // Record #2 starts after the header and record #1.
  uint64_t second = 0;
  actors::verify_log(node.audit_dir(), [&](uint64_t index, std::string_view, auto&, uint64_t offset) {
    if (index == 2)
      second = offset;
  });
  ASSERT_GT(second, 0u);
  int fd = ::open(segment.c_str(), O_RDWR);
  char byte = 0;
  ASSERT_EQ(::pread(fd, &byte, 1, static_cast<off_t>(second + 50)), 1);
  byte = static_cast<char>(byte ^ 0x20);
  ASSERT_EQ(::pwrite(fd, &byte, 1, static_cast<off_t>(second + 50)), 1);
  ::close(fd);
  auto r = run_program({CASTELLAN_AUTHCTL, "audit", "verify", node.audit_dir()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("record #2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("offset " + std::to_string(second)), std::string::npos) << r.out;
}

TEST(Audit, NodeStartsAfterATornTailAndCutsIt) {
  auto node = std::make_unique<authd_process>(generous_limits);
  node->keep_dir();
  auto dir = node->dir();
  auto c = node->connect();
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(c.login("alice", alice_password).ok);
  node->kill_hard();
  node.reset();
  auto audit_dir = (dir / "audit").string();
  auto segment = actors::list_segments(audit_dir).back();
  uint64_t last = 0, records = 0;
  actors::verify_log(audit_dir, [&](uint64_t, std::string_view, auto&, uint64_t offset) {
    last = offset;
    ++records;
  });
  ASSERT_EQ(::truncate(segment.c_str(), static_cast<off_t>(last + 30)), 0);  // mid-record
  auto restarted = authd_process::restart_in(dir);
  EXPECT_NE(restarted->stderr_text().find("cut"), std::string::npos) << restarted->stderr_text();
  EXPECT_TRUE(restarted->connect().login("alice", alice_password).ok);
  auto verify = run_program({CASTELLAN_AUTHCTL, "--json", "audit", "verify", audit_dir});
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  EXPECT_GE(nlohmann::json::parse(verify.out).at("records").get<uint64_t>(), records);
  restarted.reset();
  fs::remove_all(dir);
}

TEST(Audit, UnwritableAuditDirectoryFailsWritesClosedButValidateWorks) {
  authd_process node(generous_limits);
  auto c = node.connect();
  auto token = c.login("alice", alice_password).as<net::login_reply>().token;
  {
    std::vector<std::string> paths{node.audit_dir()};
    for (auto& s : actors::list_segments(node.audit_dir()))
      paths.push_back(s);
    immutable_guard readonly(paths);
    EXPECT_EQ(c.login("alice", alice_password).error, "unavailable");
    EXPECT_TRUE(c.validate(token).ok);  // reads never wait for audit
    auto health = c.call(net::health_request{0}).as<net::health_reply>();
    EXPECT_FALSE(health.audit_writable);
    auto ready = http_get(node.monitor_port(), "/health/ready");
    EXPECT_NE(ready.find("503"), std::string::npos) << ready;
    EXPECT_NE(ready.find("\"component\":\"audit\""), std::string::npos) << ready;
    EXPECT_EQ(metric(node.monitor_port(), "castellan_ready"), 0);
    EXPECT_FALSE(health.ready);
    EXPECT_FALSE(health.audit_error.empty());
    EXPECT_EQ(c.login("alice", alice_password).error, "unavailable");  // fails fast now
    EXPECT_EQ(c.logout(token).error, "unavailable");  // refused, and the session stays
    EXPECT_TRUE(c.validate(token).ok);
    readonly.release();
  }
  EXPECT_TRUE(eventually([&] { return c.login("alice", alice_password).ok; }, 10s));
  EXPECT_EQ(metric(node.monitor_port(), "castellan_ready"), 1);
  EXPECT_TRUE(c.logout(token).ok);
  EXPECT_EQ(run_program({CASTELLAN_AUTHCTL, "audit", "verify", node.audit_dir()}).exit_code, 0);
}

TEST(Audit, RecordsHoldNoPasswordTokenOrSessionId) {
  authd_process node(generous_limits);
  auto c = node.connect();
  std::vector<std::string> tokens;
  for (int i = 0; i < 5; ++i)
    tokens.push_back(c.login("alice", alice_password).as<net::login_reply>().token);
  c.refresh(tokens[0]);
  c.logout(tokens[1]);
  c.login("alice", "a-wrong-password");
  node.stop();
  std::string all;
  for (auto& s : actors::list_segments(node.audit_dir()))
    all += read_file(s);
  auto keys = net::load_key_file((node.dir() / "keys.json").string());
  EXPECT_EQ(all.find(alice_password), std::string::npos);
  EXPECT_EQ(all.find("a-wrong-password"), std::string::npos);
  for (auto& t : tokens) {
    EXPECT_EQ(all.find(t), std::string::npos);
    auto sid = session_id_of(t);
    EXPECT_EQ(all.find(sid), std::string::npos);
    EXPECT_EQ(all.find(hex_of(sid)), std::string::npos);
  }
  auto kinds = run_program({CASTELLAN_AUTHCTL, "audit", "tail", node.audit_dir()});
  for (auto k : {"node_started", "login_ok", "refresh", "logout", "login_failed", "node_stopping"})
    EXPECT_NE(kinds.out.find(k), std::string::npos) << k << "\n" << kinds.out;
}

}  // namespace
}  // namespace castellan::test
