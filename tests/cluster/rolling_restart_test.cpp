// A rolling restart under load (docs/operations.md, "Running a cluster"):
// each member in turn gets SIGTERM while clients pipeline validates and
// logins at it; it hands its ranges over, leaves, drains, and every request
// it read is answered. Then it starts again and rejoins before the next.
#include <thread>

#include <gtest/gtest.h>

#include "net/messages.hpp"
#include "tests/cluster/test_cluster.hpp"
#include "tests/e2e/stop_load.hpp"

namespace castellan::test {
namespace {

using namespace std::chrono_literals;

TEST(RollingRestart, EveryRequestAStoppingMemberReadIsAnswered) {
  test_cluster cluster(3, generous_limits);  // logins are load here, not what is measured
  ASSERT_TRUE(eventually([&] { return cluster.converged(); }, 20s));
  std::string token = [&] {
    auto c = net::client::connect("127.0.0.1", cluster.client_port(0), 5s);
    return c.login("alice", alice_password).as<net::login_reply>().token;
  }();
  const std::vector<on_notice> modes{on_notice::stop_and_half_close, on_notice::stop_writing,
                                     on_notice::stop_and_half_close};
  for (size_t member = 0; member < cluster.size(); ++member) {
    std::vector<std::unique_ptr<pipeliner>> clients;
    std::vector<std::thread> threads;
    for (auto mode : modes)
      clients.push_back(
          std::make_unique<pipeliner>(cluster.client_port(member), token, mode, true));
    for (auto& c : clients)
      threads.emplace_back([&c] { c->run(); });
    bool busy = eventually([&] {
      for (auto& c : clients)
        if (c->answered() < 1000)
          return false;
      return true;
    }, 20s);
    auto stopping = std::chrono::steady_clock::now();
    EXPECT_EQ(cluster.stop(member), 0) << cluster.name(member);
    for (auto& t : threads)
      t.join();
    EXPECT_TRUE(busy) << cluster.name(member) << ": the load never got going";
    for (size_t i = 0; i < clients.size(); ++i) {
      auto& o = clients[i]->result();
      std::string who = cluster.name(member) + " connection " + std::to_string(i);
      expect_contract(o, modes[i], who, stopping);
      std::cout << who << ": " << o.written << " written, " << o.answers.size() << " answered, "
                << o.logins_unavailable << " of " << o.written / 512
                << " logins unavailable before the notice" << std::endl;
    }
    cluster.restart(member);
    ASSERT_TRUE(eventually([&] { return cluster.converged(); }, 30s)) << cluster.name(member);
  }
  // Nobody was logged out by the restarts.
  auto c = net::client::connect("127.0.0.1", cluster.client_port(0), 5s);
  EXPECT_TRUE(c.validate(token).ok);
}

}  // namespace
}  // namespace castellan::test
