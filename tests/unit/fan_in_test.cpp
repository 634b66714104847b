// The fan-in primitive (actors/runtime/fan_in.hpp): the completion runs once,
// after the last part, with every value folded in; a part dropped unanswered
// (also in the mailbox of an actor that dies) counts as a failure; arrivals
// from many threads at once lose nothing.
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/runtime/atoms.hpp"
#include "actors/runtime/fan_in.hpp"

namespace castellan::actors {
namespace {
struct carried_part {
  fan_in<bool>::part part;
};
}  // namespace
}  // namespace castellan::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::carried_part)

namespace castellan::actors {
namespace {

// Counts: the sum of the parts' values; a lost part adds 1000.
fan_in<int> summing(std::function<void(int)> done) {
  return fan_in<int>({0, 1000, [](int& sum, int&& v) { sum += v; }}, std::move(done));
}

TEST(FanIn, RunsOnceAfterEveryPartWithTheCombinedResult) {
  std::vector<bool> seen;
  auto join = all_ok([&](bool ok) { seen.push_back(ok); });
  auto a = join.add(), b = join.add(), c = join.add();
  join.seal();
  a(true);
  c(true);
  EXPECT_TRUE(seen.empty());
  b(true);
  ASSERT_EQ(seen, std::vector<bool>{true});
  b(false);  // a second call of an arrived part is ignored
  EXPECT_EQ(seen.size(), 1u);
}

TEST(FanIn, OneFailureFailsTheWhole) {
  std::optional<bool> result;
  auto join = all_ok([&](bool ok) { result = ok; });
  auto a = join.add(), b = join.add();
  join.seal();
  a(false);
  b(true);
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(*result);
}

TEST(FanIn, NoPartsCompletesAtSealWithTheStart) {
  std::optional<int> result;
  auto join = summing([&](int n) { result = n; });
  EXPECT_FALSE(result);
  join.seal();
  EXPECT_EQ(result, 0);
}

TEST(FanIn, NotBeforeSealEvenIfEveryPartIsIn) {
  std::optional<int> result;
  auto join = summing([&](int n) { result = n; });
  join.add()(2);
  join.add()(3);
  EXPECT_FALSE(result);  // more parts may come
  join.seal();
  EXPECT_EQ(result, 5);
}

TEST(FanIn, ADroppedPartCountsAsLost) {
  std::optional<bool> result;
  {
    auto join = all_ok([&](bool ok) { result = ok; });
    auto kept = join.add();
    {
      auto dropped = join.add();  // like a message dying in a crashed actor's mailbox
    }
    join.seal();
    EXPECT_FALSE(result);
    kept(true);
  }
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(*result);
}

TEST(FanIn, CopiesOfAPartShareOneArrival) {
  std::optional<int> result;
  auto join = summing([&](int n) { result = n; });
  std::function<void(int)> callback = join.add();  // as carried in a message
  auto copy = callback;
  join.seal();
  copy(7);
  callback(7);  // ignored: the part is in
  EXPECT_EQ(result, 7);
}

TEST(FanIn, TheLastCopyDroppedUncalledIsTheLoss) {
  std::optional<int> result;
  auto join = summing([&](int n) { result = n; });
  std::function<void(int)> first = join.add();
  join.seal();
  {
    auto second = first;
    first = nullptr;
    EXPECT_FALSE(result);  // a copy still holds the part
  }
  EXPECT_EQ(result, 1000);
}

TEST(FanIn, AnUnsealedFanInCountsItsOwnShareAsLost) {
  std::optional<int> result;
  fan_in<int>::part handed_out;
  {
    auto join = summing([&](int n) { result = n; });
    handed_out = join.add();
  }  // the creator never sealed (say it threw)
  EXPECT_FALSE(result);
  handed_out(4);
  EXPECT_EQ(result, 1004);
}

TEST(FanIn, CollectsValuesOfAnotherType) {
  std::vector<std::string> result;
  fan_in<std::string, std::vector<std::string>> join(
      {{}, "lost", [](std::vector<std::string>& all, std::string&& v) { all.push_back(std::move(v)); }},
      [&](std::vector<std::string> all) { result = std::move(all); });
  auto a = join.add();
  { auto b = join.add(); }
  join.seal();
  a("a");
  EXPECT_EQ(result, (std::vector<std::string>{"lost", "a"}));
}

TEST(FanIn, ManyThreadsArriveAndTheCompletionRunsExactlyOnce) {
  constexpr int threads = 8, per_thread = 2000;
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> completions{0};
    std::atomic<int> total{-1};
    auto join = summing([&](int n) {
      total = n;
      ++completions;
    });
    std::vector<std::vector<fan_in<int>::part>> parts(threads);
    for (auto& mine : parts)
      for (int i = 0; i < per_thread; ++i)
        mine.push_back(join.add());
    join.seal();
    std::atomic<bool> go{false};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        while (!go)
          std::this_thread::yield();
        for (int i = 0; i < per_thread; ++i) {
          if (t == 0 && i % 100 == 0)
            parts[t][i] = {};  // dropped: counts 1000
          else
            parts[t][i](1);
        }
        parts[t].clear();
      });
    go = true;
    for (auto& th : pool)
      th.join();
    EXPECT_EQ(completions.load(), 1);
    EXPECT_EQ(total.load(), (threads * per_thread - per_thread / 100) + 1000 * (per_thread / 100));
  }
}

TEST(FanIn, ACompletionMayStartAnotherFanIn) {
  // The completion runs outside the lock: a retry from inside it is fine.
  int rounds = 0;
  std::function<void()> start = [&] {
    auto join = all_ok([&](bool) {
      if (++rounds < 3)
        start();
    });
    join.add()(true);
    join.seal();
  };
  start();
  EXPECT_EQ(rounds, 3);
}

// An actor that, asked to crash, first waits for `gate`: whatever is sent
// to it meanwhile is still in its mailbox when it dies.
caf::behavior dies_when_let_go(caf::event_based_actor*, std::shared_future<void> gate) {
  return {
    [gate](crash_atom) {
      gate.wait();
      throw std::runtime_error("crash requested by the test");
    },
    [](carried_part& c) { c.part(true); },
  };
}

TEST(FanIn, APartInTheMailboxOfAnActorThatDiesArrivesAsAFailure) {
  caf::actor_system_config cfg;
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  caf::actor_system sys(cfg);
  std::promise<void> let_go;
  std::promise<bool> result;
  auto heard = result.get_future();
  {
    auto join = all_ok([&](bool ok) { result.set_value(ok); });
    auto doomed = sys.spawn<caf::detached>(dies_when_let_go, let_go.get_future().share());
    caf::anon_send(doomed, crash_atom_v);
    caf::anon_send(doomed, carried_part{join.add()});  // queued behind the crash
    join.seal();
  }
  let_go.set_value();
  ASSERT_EQ(heard.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "a part lost in a dead actor's mailbox was never heard of";
  EXPECT_FALSE(heard.get());
  sys.await_all_actors_done();
}

}  // namespace
}  // namespace castellan::actors
