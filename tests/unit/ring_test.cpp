// Rendezvous placement: what every member must agree on without talking, how
// little moves when membership changes, and who hands what to whom then.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "actors/runtime/handover.hpp"
#include "actors/runtime/ring.hpp"
#include "net/token.hpp"

namespace castellan::actors {
namespace {

TEST(Ring, EveryMemberComputesTheSamePlacementWhateverTheOrder) {
  ring a({"node-a", "node-b", "node-c"}, 2);
  ring b({"node-c", "node-a", "node-b"}, 2);
  for (uint64_t k = 0; k < 1000; ++k) {
    uint64_t h = ring_hash("user:" + std::to_string(k));
    EXPECT_EQ(a.place(h), b.place(h));
    EXPECT_EQ(a.owner(h), a.place(h)[0]);
  }
}

TEST(Ring, HoldersAreDistinctAndCappedByMembers) {
  ring r({"a", "b", "c"}, 2);
  ring one({"a"}, 2);
  for (uint64_t k = 0; k < 100; ++k) {
    auto p = r.place(ring_hash(std::to_string(k)));
    ASSERT_EQ(p.size(), 2u);
    EXPECT_NE(p[0], p[1]);
    EXPECT_TRUE(r.holds(ring_hash(std::to_string(k)), p[0]));
    EXPECT_TRUE(r.holds(ring_hash(std::to_string(k)), p[1]));
    EXPECT_EQ(one.place(ring_hash(std::to_string(k))).size(), 1u);
  }
}

TEST(Ring, SessionsSpreadEvenly) {
  ring r({"node-a", "node-b", "node-c"}, 1);
  std::map<uint32_t, int> owned;
  for (int i = 0; i < 30000; ++i)
    ++owned[r.owner(ring_hash(net::random_session_id()))];
  for (auto& [member, n] : owned)
    EXPECT_NEAR(n, 10000, 600) << r.members()[member];
}

TEST(Ring, ALeavingMemberMovesOnlyItsOwnKeys) {
  ring before({"node-a", "node-b", "node-c", "node-d"}, 1);
  ring after({"node-a", "node-b", "node-d"}, 1);
  for (uint64_t k = 0; k < 5000; ++k) {
    uint64_t h = ring_hash("ip:10.0.0." + std::to_string(k));
    auto was = before.members()[before.owner(h)];
    auto now = after.members()[after.owner(h)];
    if (was != "node-c") {
      EXPECT_EQ(was, now);  // nobody else's keys move
    }
  }
}

TEST(Ring, IndexOfNamesMembersOnly) {
  ring r({"b", "a"}, 2);
  EXPECT_EQ(r.index_of("a"), 0);
  EXPECT_EQ(r.index_of("b"), 1);
  EXPECT_EQ(r.index_of("c"), -1);
}

}  // namespace
}  // namespace castellan::actors

// Hand-over: every new holder of a key gets it from exactly one old holder.
namespace castellan::actors {
namespace {

TEST(Handover, EachNewHolderGetsEachKeyFromExactlyOneOldHolder) {
  actors::ring before({"node-a", "node-b"}, 2);
  actors::ring after({"node-a", "node-b", "node-c"}, 2);
  for (uint64_t k = 0; k < 2000; ++k) {
    uint64_t h = actors::ring_hash("key" + std::to_string(k));
    size_t senders = 0;
    for (auto& self : before.members()) {
      auto targets = handover_targets(&before, after, self, h);
      senders += !targets.empty();
      for (auto& t : targets)
        EXPECT_EQ(t, "node-c");  // a and b held everything already
    }
    bool c_holds = after.holds(h, static_cast<uint32_t>(after.index_of("node-c")));
    EXPECT_EQ(senders, c_holds ? 1u : 0u);
  }
}

TEST(Handover, AfterADeathTheSurvivorRestoresTheSecondCopy) {
  actors::ring before({"node-a", "node-b", "node-c"}, 2);
  actors::ring after({"node-a", "node-c"}, 2);
  for (uint64_t k = 0; k < 2000; ++k) {
    uint64_t h = actors::ring_hash("key" + std::to_string(k));
    if (!before.holds(h, static_cast<uint32_t>(before.index_of("node-b"))))
      continue;  // node-b's death changes nothing for this key
    size_t copies_sent = 0;
    for (auto& self : after.members())
      if (before.holds(h, static_cast<uint32_t>(before.index_of(self))))
        copies_sent += handover_targets(&before, after, self, h).size();
    EXPECT_EQ(copies_sent, 1u);  // the one survivor that held it sends it to the other
  }
}

TEST(Handover, WithNoPreviousRingEveryoneSendsToEveryOtherHolder) {
  actors::ring after({"node-a", "node-b", "node-c"}, 2);
  uint64_t h = actors::ring_hash(std::string("k"));
  auto holders = after.place(h);
  auto& self = after.members()[holders[0]];
  EXPECT_EQ(handover_targets(nullptr, after, self, h),
            std::vector<std::string>{after.members()[holders[1]]});
}

}  // namespace
}  // namespace castellan::actors
