// The wire protocol against a real authd: every bad input gets the documented
// reply, and a second connection is served throughout.
#include <set>

#include <gtest/gtest.h>

#include "net/frame_codec.hpp"
#include "tests/e2e/authd_process.hpp"

namespace castellan::test {
namespace {

using namespace std::chrono_literals;

class ProtocolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { node = new authd_process("", "max_frame_bytes = 4096\n"); }
  static void TearDownTestSuite() {
    delete node;
    node = nullptr;
  }
  void SetUp() override { bystander.emplace(node->connect()); }
  // The bystander connection must keep being served whatever the other one does.
  void TearDown() override {
    auto r = bystander->ping();
    EXPECT_TRUE(r.ok) << "second connection not served";
  }

  static std::string frame(const std::string& body) {
    std::string out;
    net::append_frame_header(out, static_cast<uint32_t>(body.size()));
    return out + body;
  }
  static net::reply_view next(net::client& c) {
    auto r = c.receive(10s);
    if (!r)
      throw std::runtime_error("no reply within 10 s");
    return std::move(*r);
  }
  static bool closes(net::client& c) {
    return eventually([&] {
      try {
        c.receive(50ms);
        return c.closed();
      } catch (const net::client_error&) {
        return true;
      }
    });
  }

  static authd_process* node;
  std::optional<net::client> bystander;
};
authd_process* ProtocolTest::node = nullptr;

TEST_F(ProtocolTest, PingAnswersWithTheNodeName) {
  auto c = node->connect();
  auto r = c.ping();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.as<net::ping_reply>().node, "test-node");
}

TEST_F(ProtocolTest, GarbageBytesGetMalformedThenClose) {
  auto c = node->connect();
  c.queue_raw(frame("\xc1\xc1\xc1\xc1"));
  c.flush();
  auto r = next(c);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "malformed");
  EXPECT_EQ(r.id, 0u);
  EXPECT_TRUE(closes(c));
}

TEST_F(ProtocolTest, HugeLengthPrefixGetsTooLargeAndCloseWithoutBody) {
  auto c = node->connect();
  c.queue_raw(std::string("\xff\xff\xff\xff", 4));  // 4 GiB, body never sent
  c.flush();
  auto r = next(c);
  EXPECT_EQ(r.error, "too_large");
  EXPECT_EQ(r.id, 0u);
  EXPECT_NE(r.message.find("4294967295"), std::string::npos) << r.message;
  EXPECT_TRUE(closes(c));
}

TEST_F(ProtocolTest, FrameJustOverTheMaximumIsTooLarge) {
  auto c = node->connect();
  c.queue_raw(frame(std::string(4097, 'x')));
  c.flush();
  EXPECT_EQ(next(c).error, "too_large");
}

TEST_F(ProtocolTest, TruncatedFrameThenEofGetsMalformed) {
  auto c = node->connect();
  auto whole = frame(std::string("\x82\xa2id\x01\xa2op\xa4ping", 13));
  c.queue_raw(whole.substr(0, whole.size() - 3));
  c.flush();
  c.shutdown_send();
  auto r = next(c);
  EXPECT_EQ(r.error, "malformed");
  EXPECT_NE(r.message.find("middle of a frame"), std::string::npos);
  EXPECT_TRUE(closes(c));
}

TEST_F(ProtocolTest, MapWithoutOpGetsMalformedAndTheConnectionStaysUsable) {
  auto c = node->connect();
  c.queue_raw(frame(std::string("\x81\xa2id\x07", 5)));  // {"id": 7}
  c.flush();
  auto r = next(c);
  EXPECT_EQ(r.error, "malformed");
  EXPECT_EQ(r.id, 7u);
  EXPECT_TRUE(c.ping().ok);
}

TEST_F(ProtocolTest, NonMapAndMissingIdAreMalformedButNotFatal) {
  auto c = node->connect();
  c.queue_raw(frame("\x93\x01\x02\x03"));                     // [1,2,3]
  c.queue_raw(frame(std::string("\x81\xa2op\xa4ping", 9)));  // {"op": "ping"}
  c.flush();
  EXPECT_EQ(next(c).error, "malformed");
  EXPECT_EQ(next(c).error, "malformed");
  EXPECT_TRUE(c.ping().ok);
}

// Request structs carry their own op as a constant; an op no node knows
// needs a struct of its own.
struct teleport_request {
  uint64_t id = 0;
  std::string op = "teleport";
  std::string token;
  MSGPACK_DEFINE_MAP(id, op, token)
};

TEST_F(ProtocolTest, UnknownOpIsRefusedByName) {
  auto c = node->connect();
  auto r = c.call(teleport_request{});
  EXPECT_EQ(r.error, "unknown_op");
  EXPECT_TRUE(c.ping().ok);
}

TEST_F(ProtocolTest, ForgedTokenIsInvalidToken) {
  auto c = node->connect();
  auto r = c.validate(std::string(50, 'A'));
  EXPECT_EQ(r.error, "invalid_token");
  EXPECT_EQ(c.validate("short").error, "invalid_token");
}

TEST_F(ProtocolTest, RepliesCarryTheRequestIdsWhenPipelined) {
  auto c = node->connect();
  std::set<uint64_t> sent;
  for (int i = 0; i < 100; ++i)
    sent.insert(c.queue(net::ping_request{}));
  c.flush();
  std::set<uint64_t> got;
  for (int i = 0; i < 100; ++i)
    got.insert(next(c).id);
  EXPECT_EQ(got, sent);
}

}  // namespace
}  // namespace castellan::test
