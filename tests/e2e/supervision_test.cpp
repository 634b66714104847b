// Supervision against a real authd: actors crashed on purpose (fault
// injection) are restarted, every request still gets a reply, nothing
// acknowledged is lost, and too many crashes end the process with status 3.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/authd_process.hpp"

namespace castellan::test {
namespace {

using namespace std::chrono_literals;

net::reply_view crash(net::client& c, const std::string& token, const std::string& target) {
  return c.call(net::debug_crash_request{0, token, target});
}

// Pipelines validates until stopped; counts what it sent and what came back.
struct validate_load {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sent{0}, answered{0}, unavailable{0};
  std::thread thread;

  validate_load(const authd_process& node, std::string token) {
    thread = std::thread([this, &node, token] {
      auto c = node.connect();
      uint64_t outstanding = 0;
      auto until = std::chrono::steady_clock::now() + 30s;  // bounded whatever happens
      while ((!stop || outstanding > 0) && std::chrono::steady_clock::now() < until) {
        while (!stop && outstanding < 8) {
          c.queue(net::validate_request{0, token});
          ++outstanding;
          ++sent;
        }
        c.flush();
        auto r = c.receive(stop ? 5s : 100ms);
        if (!r) {
          if (stop)
            break;  // silence: the test below counts it as a failure
          continue;
        }
        --outstanding;
        ++answered;
        unavailable += r->error == "unavailable";
      }
    });
  }
  void finish() {
    stop = true;
    thread.join();
  }
};

TEST(Supervision, DebugCrashIsForbiddenUnlessEnabledAndAdmin) {
  {
    authd_process node;  // fault injection off
    auto c = node.connect();
    auto r = crash(c, token_of(c, "ops", ops_password), "session_shard");
    EXPECT_EQ(r.error, "forbidden");
    EXPECT_NE(r.message.find("fault injection is disabled"), std::string::npos);
  }
  authd_process node(drills);
  auto c = node.connect();
  EXPECT_EQ(crash(c, token_of(c, "alice", alice_password), "session_shard").error, "forbidden");
  EXPECT_EQ(crash(c, std::string(50, 'A'), "session_shard").error, "invalid_token");
  EXPECT_EQ(crash(c, token_of(c, "ops", ops_password), "front_door").error, "malformed");
}

TEST(Supervision, CrashedActorsRestartUnderLoadAndLoseNothing) {
  authd_process node(drills + "[actors]\nsession_shards = 2\n");
  auto c = node.connect();
  auto admin = token_of(c, "ops", ops_password);
  std::vector<std::string> sessions;
  for (int i = 0; i < 50; ++i)
    sessions.push_back(token_of(c, "alice", alice_password));
  for (auto target : {"session_shard", "limiter_shard", "audit_writer", "front_door_listener",
                      "monitor"}) {
    validate_load load(node, sessions[0]);
    EXPECT_TRUE(eventually([&] { return load.answered > 100; }, 10s));
    auto r = crash(c, admin, target);
    ASSERT_TRUE(r.ok) << target << ": " << r.error;
    auto seen = load.answered.load();
    EXPECT_TRUE(eventually([&] { return load.answered > seen + 100; }, 10s)) << target;
    load.finish();
    EXPECT_EQ(load.answered.load(), load.sent.load()) << target << ": a request got no reply";
    // Restarted, and serving: new connections, logins (limiter, audit) and
    // every session.
    EXPECT_TRUE(eventually([&] {
      try {
        return node.connect().ping().ok;
      } catch (const net::client_error&) {
        return false;  // the listener is being re-opened
      }
    }, 10s)) << target;
    EXPECT_TRUE(eventually([&] { return c.login("alice", alice_password).ok; }, 10s)) << target;
    for (auto& t : sessions)
      ASSERT_TRUE(c.validate(t).ok) << target << ": a session was lost";
    auto metrics = http_get(node.monitor_port(), "/metrics");
    EXPECT_NE(metrics.find("castellan_actor_restarts_total{kind=\"" + std::string(target) + "\"} 1"),
              std::string::npos) << target << "\n" << metrics;
  }
  auto verify = run_program({CASTELLAN_AUTHCTL, "audit", "verify", node.audit_dir()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
}

TEST(Supervision, ExceedingTheRestartIntensityEndsAuthdWithStatus3) {
  authd_process node(drills + "[actors]\nsession_shards = 1\n"
                              "[supervision]\nmax_restarts = 2\nperiod_ms = 60000\n"
                              "root_max_restarts = 1\nroot_period_ms = 60000\n");
  auto c = node.connect();
  auto admin = token_of(c, "ops", ops_password);
  // Each crash is answered first, then the shard throws. The third crash in
  // the window makes the session supervisor give up; the root restarts that
  // subtree once, and the next round makes the root give up too.
  bool exited = false;
  for (int i = 0; i < 12 && !exited; ++i) {
    try {
      auto r = crash(c, admin, "session_shard");
      if (!r.ok && r.error == "unavailable") {
        std::this_thread::sleep_for(20ms);  // the subtree is restarting; try again
        continue;
      }
    } catch (const net::client_error&) {
      exited = true;  // the node went away
    }
    std::this_thread::sleep_for(20ms);
  }
  int status = -1;
  EXPECT_TRUE(eventually([&] {
    status = node.stop();
    return status != -1;
  }, 10s));
  EXPECT_EQ(status, 3) << node.stderr_text();
  EXPECT_NE(node.stderr_text().find("root supervisor gave up"), std::string::npos) << node.stderr_text();
}

}  // namespace
}  // namespace castellan::test
