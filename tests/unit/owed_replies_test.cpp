// Replies owed to a connection are answered exactly once: what nobody
// answered becomes `unavailable` when the last holder lets go.
#include <set>

#include <gtest/gtest.h>

#include "net/frame_codec.hpp"
#include "net/messages.hpp"
#include "net/owed_replies.hpp"

namespace castellan::net {
namespace {

struct capture : reply_sink {
  std::vector<reply_view> replies;
  void deliver(std::string&& frames, size_t count) override {
    std::string_view rest(frames);
    size_t seen = 0;
    while (!rest.empty()) {
      auto scan = scan_frame(rest, 1 << 20);
      ASSERT_EQ(scan.status, frame_status::complete);
      replies.push_back(parse_reply(scan.body));
      rest.remove_prefix(scan.frame_bytes);
      ++seen;
    }
    EXPECT_EQ(seen, count);
  }
};

TEST(OwedReplies, WhatNobodyAnsweredIsRefusedWhenTheLastHolderGoes) {
  auto sink = std::make_shared<capture>();
  {
    auto owed = std::make_shared<owed_replies>(sink, std::vector<uint64_t>{1, 2, 3, 4});
    reply_buffer out;
    out.add(logout_reply{2, true});
    owed->deliver(out.take(), {2});
    owed->refuse({4}, "audit log not writable");
    auto second_holder = owed;  // e.g. another shard's share of the batch
    owed.reset();
    EXPECT_EQ(sink->replies.size(), 2u);
  }
  ASSERT_EQ(sink->replies.size(), 4u);
  EXPECT_TRUE(sink->replies[0].ok);
  EXPECT_EQ(sink->replies[1].error, "unavailable");
  std::set<uint64_t> refused;
  for (size_t i = 2; i < 4; ++i) {
    EXPECT_EQ(sink->replies[i].error, "unavailable");
    refused.insert(sink->replies[i].id);
  }
  EXPECT_EQ(refused, (std::set<uint64_t>{1, 3}));
}

TEST(OwedReplies, AFullyAnsweredDebtSaysNothingMore) {
  auto sink = std::make_shared<capture>();
  {
    owed_replies owed(sink, {7});
    reply_buffer out;
    out.add(ping_reply{7, true, "n", 0});
    owed.deliver(out.take(), {7});
  }
  EXPECT_EQ(sink->replies.size(), 1u);
}

}  // namespace
}  // namespace castellan::net
