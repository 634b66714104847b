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

const std::string generous_limits =
    "[limiter.user]\nrate_per_s = 100000\nburst = 100000\nlockout_after = 0\n"
    "[limiter.ip]\nrate_per_s = 100000\nburst = 100000\nlockout_after = 0\n"
    "[limiter.user_ip]\nrate_per_s = 100000\nburst = 100000\nlockout_after = 0\n";

// Starts a node, loads it from one connection per mode, stops it with
// SIGTERM and checks every connection against the contract. Returns how
// long the stop took.
clock::duration stop_under_load(const std::vector<on_notice>& modes, const std::string& round) {
  authd_process node(generous_limits, "drain_timeout_ms = 1500\n");
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
    expect_contract(o, modes[i], who);
    std::cout << who << ": " << o.written << " written, " << o.written_at_notice
              << " before the notice, " << o.answers.size() << " answered" << std::endl;
  }
  std::cout << round << ": stop took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms"
            << std::endl;
  return took;
}

// Clients that stop sending at the notice: the node answers everything and
// closes as soon as they have gone quiet, long before drain_timeout_ms.
TEST(Stopping, SigtermUnderPipelinedLoadAnswersEveryRequestItRead) {
  for (int round = 0; round < 3; ++round) {
    auto took = stop_under_load({on_notice::stop_and_half_close, on_notice::stop_writing,
                                 on_notice::stop_and_half_close, on_notice::stop_writing},
                                "round " + std::to_string(round));
    EXPECT_LT(took, 1500ms) << "round " << round;
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
                                "round " + std::to_string(round));
    EXPECT_LT(took, 5s) << "round " << round;  // drain_timeout_ms, linger_bound, the rest
  }
}

}  // namespace
}  // namespace castellan::test
