// The lock-free session index: what one writer and concurrent readers may
// rely on (actors/sessions/session_index.hpp).
#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "actors/sessions/session_index.hpp"

namespace castellan::actors {
namespace {

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

net::session_key key_of(uint64_t n) {
  // Spread like a MAC, so probes behave as they will with real keys.
  net::session_key k;
  uint64_t a = splitmix(2 * n), b = splitmix(2 * n + 1);
  std::memcpy(k.data(), &a, 8);
  std::memcpy(k.data() + 8, &b, 8);
  return k;
}

// Values that follow from the key and the expiry: a reader that sees them
// disagree has read a slot half written, or parts of two writes.
indexed_session value_of(uint64_t n, int64_t expires) {
  return {static_cast<uint32_t>(n % 1000003), static_cast<int64_t>(n * 7) ^ (expires << 20), expires};
}

TEST(SessionIndex, FindsWhatWasPutAndNothingElse) {
  session_index index(std::make_shared<reader_epochs>(1));
  index.put(key_of(1), {5, 100, 200});
  auto found = index.find(key_of(1), 0);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->user, 5u);
  EXPECT_EQ(found->created_ms, 100);
  EXPECT_EQ(found->expires_ms, 200);
  EXPECT_FALSE(index.find(key_of(2), 0));
  EXPECT_TRUE(index.set_expiry(key_of(1), 300));
  EXPECT_EQ(index.find(key_of(1), 0)->expires_ms, 300);
  EXPECT_FALSE(index.set_expiry(key_of(2), 300));
  EXPECT_TRUE(index.erase(key_of(1)));
  EXPECT_FALSE(index.erase(key_of(1)));
  EXPECT_FALSE(index.find(key_of(1), 0));
  EXPECT_EQ(index.size(), 0u);
  index.put(key_of(1), {6, 1, 2});  // back again, in the tombstone or beside it
  EXPECT_EQ(index.find(key_of(1), 0)->user, 6u);
  EXPECT_EQ(index.size(), 1u);
}

TEST(SessionIndex, GrowsAndShrinksKeepingEverySessionAndAFewDozenBytesEach) {
  session_index index(std::make_shared<reader_epochs>(1));
  constexpr uint64_t n = 200000;
  for (uint64_t i = 0; i < n; ++i)
    index.put(key_of(i), value_of(i, 1000));
  EXPECT_EQ(index.size(), n);
  index.reclaim();  // no reader inside: every replaced array can go
  EXPECT_LE(index.bytes() / n, 110u) << "bytes per session";
  for (uint64_t i = 0; i < n; i += 2)
    ASSERT_TRUE(index.erase(key_of(i)));
  for (uint64_t i = 0; i < n; ++i) {
    auto found = index.find(key_of(i), 0);
    ASSERT_EQ(found.has_value(), i % 2 == 1) << i;
    if (found) {
      ASSERT_EQ(found->user, value_of(i, 0).user);
    }
  }
  // Churn: tombstones are cleaned out by rebuilds, not left to fill the array.
  for (uint64_t round = 0; round < 4; ++round) {
    for (uint64_t i = 1; i < n; i += 2)
      index.erase(key_of(i + round * n));
    for (uint64_t i = 1; i < n; i += 2)
      index.put(key_of(i + (round + 1) * n), value_of(i, 1));
  }
  index.reclaim();
  EXPECT_EQ(index.size(), n / 2);
  EXPECT_LE(index.bytes() / index.size(), 110u);
  // Emptied, it gives its memory back.
  for (uint64_t i = 1; i < n; i += 2)
    index.erase(key_of(i + 4 * n));
  index.reclaim();
  EXPECT_EQ(index.size(), 0u);
  EXPECT_LE(index.bytes(), 64 * 40u);
}

// One writer puts, refreshes and erases, rebuilding the array many times
// over, while readers look up: a reader never sees a half-written session,
// and never misses one that is live throughout.
TEST(SessionIndex, ReservedRoomTakesItsSessionsWithoutARebuild) {
  session_index index(std::make_shared<reader_epochs>(1));
  index.reserve(10000);
  size_t reserved = index.bytes();
  for (uint64_t n = 0; n < 10000; ++n)
    index.put(key_of(n), value_of(n, 1000));
  EXPECT_EQ(index.bytes(), reserved);  // no array replaced on the way (none waiting either)
  EXPECT_EQ(index.size(), 10000u);
  for (uint64_t n = 0; n < 10000; n += 97)
    EXPECT_TRUE(index.find(key_of(n), 0));
  index.reserve(10);  // never shrinks what it holds
  EXPECT_EQ(index.bytes(), reserved);
}

TEST(SessionIndex, ReadersNeverSeeATornSessionNorMissALiveOne) {
  constexpr size_t readers = 3;
  auto epochs = std::make_shared<reader_epochs>(readers);
  session_index index(epochs);
  constexpr uint64_t pinned = 64;  // live from start to end
  for (uint64_t i = 0; i < pinned; ++i)
    index.put(key_of(i), value_of(i, 1));
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> torn{0}, missed{0}, lookups{0};
  std::vector<std::thread> threads;
  for (size_t r = 0; r < readers; ++r)
    threads.emplace_back([&, r] {
      std::mt19937_64 pick(r);
      while (!stop.load(std::memory_order_relaxed)) {
        uint64_t i = pick() % 4096;
        auto found = index.find(key_of(i), r);
        lookups.fetch_add(1, std::memory_order_relaxed);
        // Pinned sessions are refreshed with set_expiry, which keeps their
        // creation time; the others are rewritten whole each time.
        auto expected = value_of(i, i < pinned ? 1 : found ? found->expires_ms : 0);
        if (found && (found->user != expected.user || found->created_ms != expected.created_ms ||
                      found->expires_ms < 1))
          torn.fetch_add(1);
        if (!found && i < pinned)
          missed.fetch_add(1);
      }
    });
  std::mt19937_64 pick(99);
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  for (uint64_t step = 0; std::chrono::steady_clock::now() < until && step < 50'000'000; ++step) {
    uint64_t i = pinned + pick() % (4096 - pinned);
    switch (pick() % 4) {
      case 0:
      case 1:
        index.put(key_of(i), value_of(i, 1 + static_cast<int64_t>(step)));
        break;
      case 2:
        index.erase(key_of(i));
        break;
      default:
        index.set_expiry(key_of(pick() % pinned), 1 + static_cast<int64_t>(step));
    }
    if (step % 1024 == 0)
      index.reclaim();
  }
  stop = true;
  for (auto& t : threads)
    t.join();
  EXPECT_GT(lookups.load(), 1000u);
  EXPECT_EQ(torn.load(), 0u);
  EXPECT_EQ(missed.load(), 0u);
  index.reclaim();  // the readers are gone: every replaced array is freed
  EXPECT_LE(index.bytes(), 2 * 4096 * 40u);
}

}  // namespace
}  // namespace castellan::actors
