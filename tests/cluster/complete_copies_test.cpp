// "No such session" only from a complete copy (docs/cluster.md, "Complete
// copies"): while a member dies, restarts or leaves, reads flat out on the
// others never call a live session invalid nor an ended one valid; with
// both holders of a session down it is `unavailable`, never `invalid_token`,
// and a revoke that could not reach its copies changes nothing.
#include <signal.h>

#include <atomic>
#include <iostream>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "net/messages.hpp"
#include "tests/cluster/test_cluster.hpp"

namespace castellan::test {
namespace {

using namespace std::chrono_literals;
using net::member_state;

std::vector<std::string> log_in(test_cluster& cluster, size_t count) {
  std::vector<std::string> tokens;
  std::vector<net::client> clients;
  for (size_t i = 0; i < cluster.size(); ++i)
    clients.push_back(net::client::connect("127.0.0.1", cluster.client_port(i), 5s));
  for (size_t i = 0; i < count; ++i) {
    auto r = clients[i % clients.size()].login("alice", alice_password);
    if (!r.ok)
      throw std::runtime_error("login failed: " + r.error + ": " + r.message);
    tokens.push_back(r.as<net::login_reply>().token);
  }
  return tokens;
}

// What readers on one member saw: every reply is judged against what the
// test knows of the session (live or ended).
struct read_tally {
  std::atomic<uint64_t> ok{0}, unavailable{0};
  std::atomic<uint64_t> live_called_invalid{0}, ended_called_valid{0}, other{0};
};

// Reads every token on member `m`, owner and local reads alternately,
// until `running` is cleared.
void read_flat_out(test_cluster& cluster, size_t m, const std::vector<std::string>& live,
                   const std::vector<std::string>& ended, std::atomic<bool>& running,
                   read_tally& tally) {
  auto c = net::client::connect("127.0.0.1", cluster.client_port(m), 5s);
  for (size_t i = 0; running; ++i) {
    bool is_live = i % 5 != 0;
    auto& t = is_live ? live[i % live.size()] : ended[i % ended.size()];
    std::optional<std::string> consistency;
    if (i % 2)
      consistency = "local";
    auto v = c.call(net::validate_request{0, t, consistency});
    if (v.ok)
      ++(is_live ? tally.ok : tally.ended_called_valid);
    else if (v.error == "invalid_token")
      ++(is_live ? tally.live_called_invalid : tally.ok);
    else if (v.error == "unavailable")
      ++tally.unavailable;
    else
      ++tally.other;
  }
}

bool sees_complete(test_cluster& cluster, size_t i) {
  return cluster.cluster_of(i).value("complete", false);
}

// node-b is killed, restarted and then stopped with SIGTERM while node-a
// and node-c read every session as fast as they can: each change moves
// node-b's keys to a member that must first be handed them.
TEST(CompleteCopies, ReadsNeverMisjudgeASessionWhileAMemberDiesRestartsOrLeaves) {
  test_cluster cluster;
  ASSERT_TRUE(eventually([&] { return cluster.converged(); }, 20s));
  auto live = log_in(cluster, 300);
  auto ended = log_in(cluster, 60);
  auto c = net::client::connect("127.0.0.1", cluster.client_port(0), 5s);
  for (auto& t : ended)
    ASSERT_TRUE(c.logout(t).ok);

  std::atomic<bool> running{true};
  read_tally on_a, on_c;
  std::thread reader_a([&] { read_flat_out(cluster, 0, live, ended, running, on_a); });
  std::thread reader_c([&] { read_flat_out(cluster, 2, live, ended, running, on_c); });
  auto settled_without_b = [&](member_state b_state) {
    return eventually([&] {
      return cluster.state_seen(0, "node-b") == b_state && cluster.state_seen(2, "node-b") == b_state &&
             sees_complete(cluster, 0) && sees_complete(cluster, 2);
    }, 10s);
  };
  std::this_thread::sleep_for(200ms);
  cluster.kill_hard(1);
  EXPECT_TRUE(settled_without_b(member_state::down));
  std::this_thread::sleep_for(300ms);
  cluster.restart(1);
  EXPECT_TRUE(eventually([&] { return cluster.converged(); }, 20s));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(cluster.stop(1), 0);
  EXPECT_TRUE(settled_without_b(member_state::left));
  std::this_thread::sleep_for(300ms);
  running = false;
  reader_a.join();
  reader_c.join();

  for (auto* tally : {&on_a, &on_c}) {
    const char* who = tally == &on_a ? "node-a" : "node-c";
    EXPECT_EQ(tally->live_called_invalid.load(), 0u) << who << ": a live session called invalid";
    EXPECT_EQ(tally->ended_called_valid.load(), 0u) << who << ": an ended session called valid";
    EXPECT_EQ(tally->other.load(), 0u) << who;
    EXPECT_GT(tally->ok.load(), 1000u) << who;
    std::cout << who << ": " << tally->ok << " right, " << tally->unavailable << " unavailable\n";
  }
}

// Five members, R = 2: node-b and node-c die together. The three left are
// a majority and go on, but the sessions only node-b and node-c held are on
// nobody: every member says so (`unavailable`), on owner and local reads
// alike, and a revoke that could not end those copies ends nothing. When
// the two come back, every session validates again.
TEST(CompleteCopies, WithBothHoldersDownASessionIsUnavailableNeverInvalid) {
  test_cluster cluster(5);
  ASSERT_TRUE(eventually([&] { return cluster.converged(); }, 30s))
      << cluster.cluster_of(0).dump();
  auto tokens = log_in(cluster, 200);
  auto admin = net::client::connect("127.0.0.1", cluster.client_port(0), 5s)
                   .login("ops", ops_password)
                   .as<net::login_reply>()
                   .token;
  std::vector<std::string> names;
  for (size_t i = 0; i < cluster.size(); ++i)
    names.push_back(cluster.name(i));
  actors::ring five(names, 2);
  std::set<std::string> lost;
  for (auto& t : tokens) {
    std::set<std::string> held;
    for (auto i : five.place(actors::ring_hash(cluster.key_of(t))))
      held.insert(five.members()[i]);
    if (held == std::set<std::string>{"node-b", "node-c"})
      lost.insert(t);
  }
  ASSERT_GT(lost.size(), 0u);

  // At once: killed one after the other, node-c could hand node-b's keys
  // on before dying (and then they are not lost). Frozen first, neither can.
  ::kill(cluster.node(1).pid(), SIGSTOP);
  ::kill(cluster.node(2).pid(), SIGSTOP);
  cluster.kill_hard(1);
  cluster.kill_hard(2);
  const std::vector<size_t> survivors{0, 3, 4};
  ASSERT_TRUE(eventually([&] {
    for (auto i : survivors)
      if (cluster.cluster_of(i).value("holders", nlohmann::json::array()).size() != 3)
        return false;
    return true;
  }, 10s));
  std::this_thread::sleep_for(500ms);  // requests forwarded to the dead have timed out

  for (auto i : survivors) {
    auto m = net::client::connect("127.0.0.1", cluster.client_port(i), 5s);
    EXPECT_FALSE(sees_complete(cluster, i));
    for (auto& t : tokens) {
      for (std::optional<std::string> consistency : {std::optional<std::string>{}, std::optional<std::string>{"local"}}) {
        auto v = m.call(net::validate_request{0, t, consistency});
        if (lost.count(t)) {
          EXPECT_EQ(v.error, "unavailable") << cluster.name(i) << " " << consistency.value_or("owner");
        } else {
          EXPECT_TRUE(v.ok) << cluster.name(i) << " " << consistency.value_or("owner") << ": "
                            << v.error << " " << v.message;
        }
      }
    }
    for (auto& t : lost)
      EXPECT_EQ(m.refresh(t).error, "unavailable");
  }
  auto m = net::client::connect("127.0.0.1", cluster.client_port(3), 5s);
  auto revoke = m.call(net::revoke_user_request{0, admin, "alice"});
  EXPECT_EQ(revoke.error, "unavailable") << revoke.message;
  for (auto& t : tokens) {
    if (!lost.count(t)) {
      EXPECT_TRUE(m.validate(t).ok) << "a refused revoke ended nothing";
    }
  }

  cluster.restart(1);
  cluster.restart(2);
  ASSERT_TRUE(eventually([&] { return cluster.converged(); }, 30s)) << cluster.cluster_of(0).dump();
  for (size_t i = 0; i < cluster.size(); ++i) {
    auto mc = net::client::connect("127.0.0.1", cluster.client_port(i), 5s);
    size_t valid = 0;
    for (auto& t : tokens)
      valid += mc.validate(t).ok;
    EXPECT_EQ(valid, tokens.size()) << cluster.name(i);
  }
}

}  // namespace
}  // namespace castellan::test

namespace castellan::test {
namespace {

// Three members, two killed at once and restarted: the survivor alone could
// not find them down (one of three), so no range moved; both come back as
// new processes, are handed over to, and every member settles.
TEST(CompleteCopies, TwoOfThreeKilledAtOnceComeBackAndEveryMemberSettles) {
  test_cluster cluster;
  ASSERT_TRUE(eventually([&] { return cluster.converged(); }, 20s));
  auto tokens = log_in(cluster, 100);
  ::kill(cluster.node(0).pid(), SIGSTOP);
  ::kill(cluster.node(2).pid(), SIGSTOP);
  cluster.kill_hard(0);
  cluster.kill_hard(2);
  ASSERT_TRUE(eventually([&] {
    return cluster.state_seen(1, "node-a") == member_state::suspect &&
           cluster.state_seen(1, "node-c") == member_state::suspect;
  }, 5s));
  cluster.restart(0);
  cluster.restart(2);
  ASSERT_TRUE(eventually([&] { return cluster.converged(); }, 20s))
      << cluster.cluster_of(0).dump() << "\n" << cluster.cluster_of(1).dump() << "\n"
      << cluster.cluster_of(2).dump();
  for (size_t i = 0; i < 3; ++i) {
    auto c = net::client::connect("127.0.0.1", cluster.client_port(i), 5s);
    for (auto& t : tokens)
      EXPECT_TRUE(c.validate(t).ok) << cluster.name(i);
  }
}

}  // namespace
}  // namespace castellan::test
