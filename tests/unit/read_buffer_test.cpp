// net/read_buffer.hpp: a connection's input buffer grows with the bytes that
// arrive, never with the length a header announces, and what all buffers
// hold beyond their base is bounded by one budget (issue 13, item 6).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "net/frame_codec.hpp"
#include "net/read_buffer.hpp"

namespace castellan::net {
namespace {

constexpr size_t base = read_buffer::base_bytes;

// Writes `n` bytes of `fill` where the next read would, as a socket would.
void arrive(read_buffer& b, size_t n, char fill = 'x') {
  ASSERT_LE(n, b.free_bytes());
  std::memset(b.free_begin(), fill, n);
  b.commit(n);
}

// The 5-byte trick: a header announcing 64 KiB and one byte buys nothing.
TEST(ReadBuffer, AnAnnouncedLengthBuysNoMemory) {
  read_budget budget(1 << 20);
  read_buffer b(&budget);
  std::string head;
  append_frame_header(head, 65536);
  std::memcpy(b.free_begin(), head.data(), head.size());
  b.commit(head.size());
  arrive(b, 1);
  EXPECT_TRUE(b.make_room(4 + 65536, false));
  EXPECT_EQ(b.capacity(), base);
  EXPECT_EQ(budget.held(), 0u);
}

// A large frame arriving in small pieces: capacity stays within twice what
// arrived plus a read, never past the frame, and is all given back after.
TEST(ReadBuffer, GrowsWithWhatArrivedAndNeverPastTheFrame) {
  read_budget budget(1 << 20);
  read_buffer b(&budget);
  const size_t frame = 4 + 60000;
  size_t reads = 0;
  while (b.used() < frame) {
    ASSERT_TRUE(b.make_room(frame, false));
    ASSERT_GT(b.free_bytes(), 0u);
    arrive(b, std::min({b.free_bytes(), frame - b.used(), size_t{700}}));
    EXPECT_LE(b.capacity(), std::max(base, 2 * b.used() + 2 * read_buffer::min_read_bytes));
    EXPECT_LE(b.capacity(), std::max(base, frame));
    EXPECT_EQ(budget.held(), b.leased());
    ASSERT_LT(++reads, 1000u);
  }
  b.consume(frame);
  b.trim(false);
  EXPECT_EQ(b.capacity(), base);
  EXPECT_EQ(budget.held(), 0u);
}

TEST(ReadBuffer, ConsumeKeepsTheRestAtTheFront) {
  read_buffer b(nullptr);
  arrive(b, 3, 'a');
  arrive(b, 2, 'b');
  b.consume(3);
  EXPECT_EQ(b.held(), "bb");
  b.consume(0);
  EXPECT_EQ(b.held(), "bb");
}

// Growth the budget cannot lease is refused and changes nothing; a lease
// comes back when its buffer goes.
TEST(ReadBuffer, AFrameTheBudgetCannotHoldIsRefused) {
  read_budget budget(15000);
  auto first = std::make_unique<read_buffer>(&budget);
  const size_t frame = 4 + 30000;
  while (first->used() < 16000) {
    ASSERT_TRUE(first->make_room(frame, false));
    arrive(*first, std::min<size_t>(first->free_bytes(), 1000));
  }
  EXPECT_GT(budget.held(), 10000u);
  read_buffer second(&budget);
  arrive(second, base);  // full: the frame needs more room now
  EXPECT_FALSE(second.make_room(frame, false));
  EXPECT_EQ(second.capacity(), base);
  EXPECT_EQ(second.used(), base);
  first.reset();
  EXPECT_EQ(budget.held(), 0u);
  EXPECT_TRUE(second.make_room(frame, false));
  EXPECT_GT(second.capacity(), base);
}

// Bigger batches for streaming clients use at most half the budget, so
// frames still arriving always have the other half.
TEST(ReadBuffer, BatchesUseAtMostHalfTheBudget) {
  read_budget budget(100 * 1024);
  std::vector<std::unique_ptr<read_buffer>> streams;
  for (int i = 0; i < 4; ++i) {
    streams.push_back(std::make_unique<read_buffer>(&budget));
    for (int r = 0; r < 6; ++r) {
      ASSERT_TRUE(streams.back()->make_room(0, true));  // every read filled it
      EXPECT_LE(streams.back()->capacity(), read_buffer::max_batch_bytes);
    }
  }
  EXPECT_EQ(streams[0]->capacity(), 32u * 1024);  // 64 KiB would lease more than half
  EXPECT_LE(budget.held(), budget.limit() / 2);
  read_buffer frame(&budget);
  arrive(frame, base);
  EXPECT_TRUE(frame.make_room(4 + 40000, false));
  EXPECT_GT(frame.capacity(), base);
}

TEST(ReadBuffer, TrimGivesBackWhatAFinishedFrameOrBatchTook) {
  read_budget budget(1 << 20);
  read_buffer b(&budget);
  for (int r = 0; r < 6; ++r)
    ASSERT_TRUE(b.make_room(0, true));
  EXPECT_EQ(b.capacity(), read_buffer::max_batch_bytes);
  b.trim(true);  // still streaming: keeps its batch size
  EXPECT_EQ(b.capacity(), read_buffer::max_batch_bytes);
  arrive(b, 10, 'q');
  b.trim(false);  // the stream paused: back to the base, the bytes kept
  EXPECT_EQ(b.capacity(), base);
  EXPECT_EQ(b.held(), std::string(10, 'q'));
  EXPECT_EQ(budget.held(), 0u);
  // A frame larger than a batch shrinks to a batch once it is done, even
  // while the client streams.
  b.clear();
  const size_t frame = 4 + 200000;
  while (b.used() < frame) {
    ASSERT_TRUE(b.make_room(frame, true));
    arrive(b, std::min(b.free_bytes(), frame - b.used()));
  }
  b.consume(frame);
  b.trim(true);
  EXPECT_EQ(b.capacity(), read_buffer::max_batch_bytes);
  EXPECT_EQ(budget.held(), b.leased());
}

TEST(ReadBudget, NeverLendsPastItsLimitUnderContention) {
  read_budget budget(64 * 1024);
  std::atomic<bool> over{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        uint64_t n = 1000 + static_cast<uint64_t>((i * 7 + t * 13) % 9000);
        if (budget.try_take(n)) {
          if (budget.held() > budget.limit())
            over = true;
          budget.give_back(n);
        }
      }
    });
  for (auto& th : threads)
    th.join();
  EXPECT_FALSE(over.load());
  EXPECT_EQ(budget.held(), 0u);
  EXPECT_FALSE(budget.try_take(64 * 1024 + 1));
  EXPECT_TRUE(budget.try_take(64 * 1024));
  EXPECT_FALSE(budget.try_take(1));
}

}  // namespace
}  // namespace castellan::net
