// Replies owed to a connection are answered exactly once: what nobody
// answered becomes `unavailable` when the last holder lets go.
#include <chrono>
#include <set>

#include <gtest/gtest.h>

#include "net/frame_codec.hpp"
#include "net/messages.hpp"
#include "net/owed_replies.hpp"
#include "net/request_stats.hpp"

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
    auto owed = std::make_shared<owed_replies>(
        sink, std::vector<owed_request>{{1, op_kind::validate}, {2, op_kind::logout},
                                        {3, op_kind::validate}, {4, op_kind::refresh}});
    reply_buffer out;
    out.add(logout_reply{2, true});
    owed->deliver(std::move(out), {2});
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
    owed_replies owed(sink, {{7, op_kind::ping}});
    reply_buffer out;
    out.add(ping_reply{7, true, "n", 0});
    owed.deliver(std::move(out), {7});
  }
  EXPECT_EQ(sink->replies.size(), 1u);
}

TEST(OwedReplies, EveryReplyIsCountedByOpAndResultWithItsLatency) {
  auto sink = std::make_shared<capture>();
  request_stats stats;
  auto read_at = owed_replies::clock::now() - std::chrono::milliseconds(3);
  {
    owed_replies owed(sink,
                      {{1, op_kind::validate}, {2, op_kind::validate}, {3, op_kind::logout},
                       {4, op_kind::refresh}},
                      &stats, read_at);
    reply_buffer out;
    out.add(validate_reply{1, true, "alice", {}, 0});
    out.add_error(2, error_code::invalid_token, "no such session");
    owed.deliver(std::move(out), {1, 2});
    owed.refuse({3}, "audit log not writable");
  }  // 4 is refused as the last holder goes
  auto v = stats.read();
  auto at = [&](op_kind op, uint8_t r) { return v.requests[static_cast<size_t>(op)][r]; };
  EXPECT_EQ(at(op_kind::validate, result_ok), 1u);
  EXPECT_EQ(at(op_kind::validate, result_of(error_code::invalid_token)), 1u);
  EXPECT_EQ(at(op_kind::logout, result_of(error_code::unavailable)), 1u);
  EXPECT_EQ(at(op_kind::refresh, result_of(error_code::unavailable)), 1u);
  // Both validates were read 3 ms before their replies: the 5 ms bucket.
  auto& buckets = v.buckets[static_cast<size_t>(op_kind::validate)];
  EXPECT_EQ(buckets[latency_bucket(3'000'000)], 2u);
  EXPECT_GE(v.latency_sum_s[static_cast<size_t>(op_kind::validate)], 0.006);
}

}  // namespace
}  // namespace castellan::net
