// SIGTERM under load: every request the node read gets its reply before the
// connection ends (docs/protocol.md, section 6; docs/operations.md,
// "Stopping"). Clients pipeline validates and logins at full speed over raw
// sockets, so the test knows exactly which request ids were written when
// the notice arrived and when the connection ended.
#include <iostream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/e2e/authd_process.hpp"
#include "tests/e2e/stop_load.hpp"

namespace castellan::test {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

// Starts a node, loads it from one connection per mode, stops it with
// SIGTERM and checks every connection against the contract. Returns how
// long the stop took.
clock::duration stop_under_load(const std::vector<on_notice>& modes, const std::string& round,
                                std::chrono::milliseconds drain_timeout) {
  authd_process node(generous_limits, "drain_timeout_ms = " + std::to_string(drain_timeout.count()) +
                                          "\ndrain_quiet_ms = " + std::to_string(drain_quiet.count()) +
                                          "\n");
  auto token = node.connect().login("alice", alice_password).as<net::login_reply>().token;
  std::vector<std::unique_ptr<pipeliner>> clients;
  std::vector<std::thread> threads;
  for (auto mode : modes)
    clients.push_back(std::make_unique<pipeliner>(node.port(), token, mode));
  for (auto& c : clients)
    threads.emplace_back([&c] { c->run(); });
  // At full speed on every connection before the signal.
  bool busy = eventually([&] {
    for (auto& c : clients)
      if (c->answered() < 2000)
        return false;
    return true;
  }, 20s);
  auto signalled = clock::now();
  EXPECT_EQ(node.stop(), 0) << round;
  auto took = clock::now() - signalled;
  for (auto& t : threads)
    t.join();
  EXPECT_TRUE(busy) << round << ": the load never got going";
  for (size_t i = 0; i < clients.size(); ++i) {
    auto& o = clients[i]->result();
    std::string who = round + " connection " + std::to_string(i);
    expect_contract(o, modes[i], who, signalled);
    std::cout << who << ": " << o.written << " written, " << o.written_at_notice
              << " before the notice, " << o.answers.size() << " answered" << std::endl;
  }
  std::cout << round << ": stop took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms"
            << std::endl;
  return took;
}

// Clients that stop sending at the notice: the node answers everything and
// closes as soon as they have gone quiet, long before drain_timeout_ms (8 s
// here, so that a slow machine's stop cannot be mistaken for the deadline).
TEST(Stopping, SigtermUnderPipelinedLoadAnswersEveryRequestItRead) {
  for (int round = 0; round < 3; ++round) {
    auto took = stop_under_load({on_notice::stop_and_half_close, on_notice::stop_writing,
                                 on_notice::stop_and_half_close, on_notice::stop_writing},
                                "round " + std::to_string(round), 8000ms);
    EXPECT_LT(took, 6s) << "round " << round;
  }
}

// A client that ignores the notice holds the node until drain_timeout_ms
// (unless it falls so far behind reading that the node stops reading it);
// everything it wrote before it read the notice is still answered, and so
// is everything else the node read.
TEST(Stopping, AClientThatIgnoresTheNoticeIsCutOffInOrderAtTheDrainTimeout) {
  for (int round = 0; round < 2; ++round) {
    auto took = stop_under_load({on_notice::keep_writing, on_notice::stop_and_half_close,
                                 on_notice::keep_writing, on_notice::stop_writing},
                                "round " + std::to_string(round), 1500ms);
    EXPECT_LT(took, 5s) << "round " << round;  // drain_timeout_ms, linger_bound, the rest
  }
}

// server.drain_quiet_ms is how long a quiet connection is waited for: an
// idle client that never half-closes holds the stop that long after the
// notice, not the whole drain_timeout_ms, and still reads the notice, then EOF.
TEST(Stopping, AnIdleConnectionIsWaitedForDrainQuietMs) {
  authd_process node("", "drain_timeout_ms = 5000\ndrain_quiet_ms = 800\n");
  pipeliner idle(node.port(), "", on_notice::stop_writing);
  ASSERT_TRUE(idle.ping_once());
  auto signalled = clock::now();
  std::thread reader([&] { idle.run_idle(); });
  EXPECT_EQ(node.stop(), 0);
  auto took = clock::now() - signalled;
  reader.join();
  EXPECT_GE(took, 800ms);
  EXPECT_LT(took, 4s);
  EXPECT_EQ(idle.result().notices, 1);
  EXPECT_TRUE(idle.result().eof) << idle.result().ended;
}

}  // namespace
}  // namespace castellan::test
