// The frame splitter and request parser, fed whole and in fragments of
// 1, 2, 5, 10 and 100 bytes (Seastar's parser-test habit): a codec that only
// works when a read happens to hold whole frames is a latent outage.
#include <gtest/gtest.h>

#include "net/frame_codec.hpp"
#include "net/messages.hpp"
#include "net/peer_messages.hpp"

namespace castellan::net {
namespace {

template <class T>
std::string frame_of(const T& value) {
  std::stringstream body;
  msgpack::pack(body, value);
  std::string out;
  append_frame_header(out, static_cast<uint32_t>(body.str().size()));
  return out + body.str();
}

// Splits `stream` into pieces of `piece` bytes, feeding a growing buffer to
// scan_frame the way the front door does, and returns every complete body.
std::vector<std::string> split_feed(const std::string& stream, size_t piece, uint32_t max) {
  std::vector<std::string> bodies;
  std::string buffer;
  for (size_t at = 0; at < stream.size(); at += piece) {
    buffer += stream.substr(at, piece);
    for (;;) {
      auto scan = scan_frame(buffer, max);
      if (scan.status != frame_status::complete)
        break;
      bodies.emplace_back(scan.body);
      buffer.erase(0, scan.frame_bytes);
    }
  }
  EXPECT_TRUE(buffer.empty());
  return bodies;
}

TEST(FrameCodec, FramesSurviveEverySplitSize) {
  std::string stream = frame_of(ping_request{1}) + frame_of(validate_request{2, "t"}) +
                       frame_of(login_request{3, "alice", "secret", ""});
  for (size_t piece : {stream.size(), size_t{1}, size_t{2}, size_t{5}, size_t{10}, size_t{100}}) {
    auto bodies = split_feed(stream, piece, 1024);
    ASSERT_EQ(bodies.size(), 3u) << "piece size " << piece;
    msgpack::zone zone;
    auto r = parse_request(bodies[2], zone);
    ASSERT_EQ(r.status, parse_status::ok);
    EXPECT_EQ(r.request.id, 3u);
    EXPECT_EQ(r.request.kind, op_kind::login);
    EXPECT_EQ(r.request.user, "alice");
    EXPECT_EQ(r.request.password, "secret");
  }
}

TEST(FrameCodec, OversizedPrefixIsRefusedBeforeTheBody) {
  std::string header;
  append_frame_header(header, 0xFFFFFFFFu);  // 4 GiB
  auto scan = scan_frame(header, 65536);
  EXPECT_EQ(scan.status, frame_status::too_large);
  EXPECT_EQ(scan.declared_length, 0xFFFFFFFFu);
}

TEST(FrameCodec, PartialHeaderNeedsMore) {
  EXPECT_EQ(scan_frame(std::string("\0\0", 2), 100).status, frame_status::need_more);
  std::string header;
  append_frame_header(header, 10);
  EXPECT_EQ(scan_frame(header + "abc", 100).status, frame_status::need_more);
}

parse_result parse(const std::string& body) {
  static msgpack::zone zone;
  return parse_request(body, zone);
}

template <class T>
std::string body_of(const T& value) {
  std::stringstream s;
  msgpack::pack(s, value);
  return s.str();
}

TEST(RequestParser, NotAMapIsABadRequest) {
  auto r = parse(body_of(std::vector<int>{1, 2}));
  EXPECT_EQ(r.status, parse_status::bad_request);
}

TEST(RequestParser, MissingOpIsABadRequestThatKeepsTheId) {
  std::map<std::string, uint64_t> m{{"id", 42}};
  auto r = parse(body_of(m));
  EXPECT_EQ(r.status, parse_status::bad_request);
  EXPECT_EQ(r.request.id, 42u);
  EXPECT_NE(r.why.find("op"), std::string::npos);
}

TEST(RequestParser, NegativeOrStringIdIsABadRequest) {
  std::map<std::string, std::string> m{{"id", "7"}, {"op", "ping"}};
  EXPECT_EQ(parse(body_of(m)).status, parse_status::bad_request);
  std::map<std::string, int64_t> n{{"id", -1}};
  EXPECT_EQ(parse(body_of(n)).status, parse_status::bad_request);
}

TEST(RequestParser, WrongFieldTypeIsABadRequest) {
  std::stringstream s;
  msgpack::packer<std::stringstream> pk(s);
  pk.pack_map(3);
  pk.pack("id"); pk.pack(1);
  pk.pack("op"); pk.pack("validate");
  pk.pack("token"); pk.pack(12345);
  EXPECT_EQ(parse(s.str()).status, parse_status::bad_request);
}

TEST(RequestParser, MissingTokenIsABadRequest) {
  std::stringstream s;
  msgpack::packer<std::stringstream> pk(s);
  pk.pack_map(2);
  pk.pack("id"); pk.pack(1);
  pk.pack("op"); pk.pack("validate");
  auto r = parse(s.str());
  EXPECT_EQ(r.status, parse_status::bad_request);
}

TEST(RequestParser, UnknownFieldsAreIgnored) {
  std::stringstream s;
  msgpack::packer<std::stringstream> pk(s);
  pk.pack_map(4);
  pk.pack("id"); pk.pack(9);
  pk.pack("trace"); pk.pack_array(0);
  pk.pack("op"); pk.pack("validate");
  pk.pack("token"); pk.pack("abc");
  auto body = s.str();  // the parsed view points into the body
  auto r = parse(body);
  ASSERT_EQ(r.status, parse_status::ok);
  EXPECT_EQ(r.request.token, "abc");
}

TEST(Replies, RateLimitedCarriesRetryAfter) {
  reply_buffer out;
  out.add_rate_limited(3, "slow down", 1500);
  auto bodies = split_feed(out.bytes(), 7, 1024);
  ASSERT_EQ(bodies.size(), 1u);
  auto r = parse_reply(bodies[0]);
  EXPECT_EQ(r.error, "rate_limited");
  EXPECT_EQ(r.retry_after_ms, 1500u);
}

TEST(RequestParser, HugeContainerHeadersAreRefusedCheaply) {
  // Arrays claiming 2^32-1 elements each, in a small body.
  std::string body;
  for (int i = 0; i < 100; ++i)
    body += std::string("\xdd\xff\xff\xff\xff", 5);
  EXPECT_EQ(parse(body).status, parse_status::not_msgpack);
  std::string deep(100, '\x91');  // [[[[...]]]] 100 deep
  deep += '\x01';
  EXPECT_EQ(parse(deep).status, parse_status::not_msgpack);
}

TEST(RequestParser, FieldsOfOtherOpsAreIgnoredWhateverTheirType) {
  std::stringstream s;
  msgpack::packer<std::stringstream> pk(s);
  pk.pack_map(3);
  pk.pack("id"); pk.pack(1);
  pk.pack("op"); pk.pack("ping");
  pk.pack("token"); pk.pack(5);
  auto body = s.str();
  EXPECT_EQ(parse(body).status, parse_status::ok);
}

TEST(RequestParser, GarbageAndTrailingBytesAreNotMsgpack) {
  EXPECT_EQ(parse("\xc1\xc1\xc1").status, parse_status::not_msgpack);  // 0xc1 is never used
  EXPECT_EQ(parse(body_of(ping_request{1}) + "x").status, parse_status::not_msgpack);
  auto whole = body_of(ping_request{1});
  EXPECT_EQ(parse(whole.substr(0, whole.size() - 1)).status, parse_status::not_msgpack);
}

TEST(Replies, EncodedRepliesDecodeWithTheSameStructs) {
  reply_buffer out;
  out.add(validate_reply{5, true, "alice", {"trader", "admin"}, 1234});
  out.add_error(6, error_code::rate_limited, "slow down");
  EXPECT_EQ(out.count(), 2u);
  auto bodies = split_feed(out.bytes(), 3, 1024);
  ASSERT_EQ(bodies.size(), 2u);
  auto ok = parse_reply(bodies[0]);
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(ok.id, 5u);
  auto v = ok.as<validate_reply>();
  EXPECT_EQ(v.user, "alice");
  EXPECT_EQ(v.roles, (std::vector<std::string>{"trader", "admin"}));
  EXPECT_EQ(v.expires_at_ms, 1234);
  auto err = parse_reply(bodies[1]);
  EXPECT_FALSE(err.ok);
  EXPECT_EQ(err.id, 6u);
  EXPECT_EQ(err.error, "rate_limited");
  EXPECT_EQ(err.message, "slow down");
}

std::string hex_of(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    constexpr char digits[] = "0123456789abcdef";
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// Every error reply is encoded from error_reply; these are the bytes clients
// received when each sender packed its map by hand (a 4-entry map, 5 with
// rate_limited's retry_after_ms), frame header included.
TEST(Replies, ErrorRepliesKeepTheirBytes) {
  reply_buffer out;
  out.add_error(6, error_code::invalid_token, "token is not valid");
  out.add_rate_limited(3, "slow down", 1500);
  out.add(error_reply{0, error_code::too_large, "x"});
  EXPECT_EQ(hex_of(out.bytes()),
            "0000003884a2696406a26f6bc2a56572726f72ad696e76616c69645f746f6b656ea76d657373616765b2746f"
            "6b656e206973206e6f742076616c6964"
            "0000004085a2696403a26f6bc2a56572726f72ac726174655f6c696d69746564a76d657373616765a9736c6f"
            "7720646f776eae72657472795f61667465725f6d73cd05dc"
            "0000002384a2696400a26f6bc2a56572726f72a9746f6f5f6c61726765a76d657373616765a178");
  EXPECT_EQ(out.results(), (std::vector<uint8_t>{3, 2, 6}));  // code + 1
}

TEST(ErrorCodes, NamesRoundTrip) {
  for (auto c : {error_code::bad_credentials, error_code::rate_limited, error_code::invalid_token,
                 error_code::expired, error_code::malformed, error_code::too_large,
                 error_code::unavailable, error_code::forbidden, error_code::unknown_op})
    EXPECT_EQ(error_code_from_string(to_string(c)), c);
  EXPECT_FALSE(error_code_from_string("nope"));
}

// Found by fuzz_peer_message (its seed regression-huge-map-header): inside a
// hello, which a member decodes before the sender proved the cluster secret,
// a map header claiming 1.8 billion entries made msgpack reserve ~40 GB.
// Every decoder of outside bytes is bounded by the body's size now.
TEST(PeerMessages, AContainerClaimingMoreThanTheBodyHoldsIsRefusedNotAllocated) {
  const char hello[] =
      "\x85\xa4\x6e\x61\xfa\xff\xff\xff\xca\xca\xca\xca\xca\xca\xca\xfe"
      "\x90\x91\x9c\x9a\x43\x26\xdf\x6d\x70\x70\x04\x00\x00\x00\x70\x70"
      "\x70\x70\x69\x5b\x6e\x08";
  EXPECT_THROW(unpack_peer<peer_hello>(std::string_view(hello, sizeof hello - 1)),
               msgpack::map_size_overflow);
  EXPECT_THROW(parse_reply(std::string_view("\xdd\xff\xff\xff\xff", 5)),
               msgpack::array_size_overflow);
}

}  // namespace
}  // namespace castellan::net
