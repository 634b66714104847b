// net/byte_order.hpp, the one copy of the fixed byte-order integers behind
// frame headers, token key ids, the audit log and snapshots: a slip here
// corrupts every format at once, so check known bytes and round trips.
#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <string>

#include "net/byte_order.hpp"

namespace castellan::net {
namespace {

// Compile-time round trips: the helpers are constexpr so formats may use them
// in constant expressions.
constexpr uint64_t round_trip_be64(uint64_t v) {
  std::array<uint8_t, 8> b{};
  store_be64(b.data(), v);
  return load_be64(b.data());
}
static_assert(round_trip_be64(0x0102030405060708ull) == 0x0102030405060708ull);
static_assert(round_trip_be64(~0ull) == ~0ull);

TEST(ByteOrder, BigEndianPutsTheMostSignificantByteFirst) {
  uint8_t b[8];
  store_be32(b, 0x0A0B0C0Du);
  EXPECT_EQ(b[0], 0x0A);
  EXPECT_EQ(b[3], 0x0D);
  store_be64(b, 0x0102030405060708ull);
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(b[i], i + 1);
  EXPECT_EQ(load_be32(b), 0x01020304u);
  EXPECT_EQ(load_be64(b), 0x0102030405060708ull);
}

TEST(ByteOrder, LittleEndianPutsTheLeastSignificantByteFirst) {
  uint8_t b[8];
  store_le64(b, 0x0102030405060708ull);
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(b[i], 8 - i);
  EXPECT_EQ(load_le64(b), 0x0102030405060708ull);
  EXPECT_EQ(load_le32(b), 0x05060708u);
  store_le16(b, 0xBEEF);
  EXPECT_EQ(load_le16(b), 0xBEEF);
}

// Frames live in std::string (signed char on x86): bytes >= 0x80 must not
// sign-extend into the high bits.
TEST(ByteOrder, RoundTripsThroughEveryByteType) {
  for (uint64_t v : {0ull, 1ull, 0x80ull, 0xFFull, 0x80808080ull, 0xFFFFFFFFull,
                     0x8000000000000000ull, 0xDEADBEEFCAFEF00Dull, ~0ull}) {
    auto v32 = static_cast<uint32_t>(v);
    char c[8];
    store_be32(c, v32);
    EXPECT_EQ(load_be32(c), v32);
    store_be64(c, v);
    EXPECT_EQ(load_be64(c), v);
    std::byte s[8];
    store_be64(s, v);
    EXPECT_EQ(load_be64(s), v);
    uint8_t u[8];
    store_le32(u, v32);
    EXPECT_EQ(load_le32(u), v32);
    store_le64(u, v);
    EXPECT_EQ(load_le64(u), v);
  }
}

TEST(ByteOrder, ReadsInsideALargerBufferAtAnyOffset) {
  std::string frame = std::string("\x00\x00\x01\x02", 4) + "body";
  EXPECT_EQ(load_be32(frame.data()), 0x0102u);
  std::string unaligned(13, '\0');
  store_be64(unaligned.data() + 3, 0x1122334455667788ull);
  EXPECT_EQ(load_be64(unaligned.data() + 3), 0x1122334455667788ull);
  EXPECT_EQ(unaligned[3], '\x11');
}

}  // namespace
}  // namespace castellan::net
