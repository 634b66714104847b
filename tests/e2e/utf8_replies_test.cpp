// Every string a node sends is UTF-8, whatever bytes a client sent (issue 13,
// item 5): a msgpack str must be UTF-8, and a strict decoder refuses a whole
// reply over one bad byte. Each string field of each op in the schema, the op
// itself and a map key get split characters, overlongs, surrogates, code
// points past U+10FFFF and stray bytes; every reply is checked by a strict
// decoder written here (msgpack-cxx does not check), and the node serves on.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <variant>

#include <msgpack.hpp>
#include <nlohmann/json.hpp>

#include "net/frame_codec.hpp"
#include "net/protocol_schema.hpp"
#include "tests/e2e/authd_process.hpp"

namespace castellan::test {
namespace {

using namespace std::chrono_literals;

// A strict UTF-8 decoder of its own (not net/utf8.hpp, which is under test):
// decodes by bit arithmetic, then refuses overlongs, surrogates and code
// points past U+10FFFF.
bool strict_utf8(std::string_view s) {
  static constexpr uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
  for (size_t i = 0; i < s.size();) {
    auto b0 = static_cast<unsigned char>(s[i]);
    size_t n = b0 < 0x80 ? 1 : (b0 >> 5) == 6 ? 2 : (b0 >> 4) == 14 ? 3 : (b0 >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size())
      return false;
    uint32_t cp = n == 1 ? b0 : b0 & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if ((b >> 6) != 2)
        return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < smallest[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      return false;
    i += n;
  }
  return true;
}

// Paths of the strings (keys and values, at any depth) that are not UTF-8.
void find_bad_strings(const msgpack::object& o, const std::string& path,
                      std::vector<std::string>& bad) {
  switch (o.type) {
    case msgpack::type::STR:
      if (!strict_utf8({o.via.str.ptr, o.via.str.size}))
        bad.push_back(path);
      return;
    case msgpack::type::ARRAY:
      for (uint32_t i = 0; i < o.via.array.size; ++i)
        find_bad_strings(o.via.array.ptr[i], path + "[" + std::to_string(i) + "]", bad);
      return;
    case msgpack::type::MAP:
      for (uint32_t i = 0; i < o.via.map.size; ++i) {
        find_bad_strings(o.via.map.ptr[i].key, path + ".<key>", bad);
        auto& k = o.via.map.ptr[i].key;
        auto name = k.type == msgpack::type::STR ? std::string(k.via.str.ptr, k.via.str.size) : "?";
        find_bad_strings(o.via.map.ptr[i].val, path + "." + name, bad);
      }
      return;
    default:
      return;
  }
}

// What a hostile client puts in a string: characters cut at every length
// around the 32 bytes unknown_op shows, Unicode's forbidden forms, stray
// continuation bytes, controls, and a long run of bytes that are never UTF-8.
std::vector<std::string> hostile_strings() {
  const std::string euro = "\xE2\x82\xAC", e_acute = "\xC3\xA9", smile = "\xF0\x9F\x98\x80";
  std::string euros, euros_shifted = "a", accents = "a", smiles = "ab";
  for (int i = 0; i < 11; ++i)
    euros += euro, euros_shifted += euro;
  for (int i = 0; i < 17; ++i)
    accents += e_acute;
  for (int i = 0; i < 9; ++i)
    smiles += smile;
  return {
      "\xFF",
      euros,                       // the case: 33 bytes, cut at 32 split the 11th
      euros_shifted,
      accents,
      smiles,
      "\xC0\x80",                  // overlong NUL
      "\xE0\x80\xAF",              // overlong '/'
      "\xED\xA0\x80",              // a surrogate
      "\xF4\x90\x80\x80",          // past U+10FFFF
      "abc\xE2\x82",               // cut at the end
      "\xF0\x9F\x98",              // three bytes of four
      "\x80\xBF",                  // continuation bytes alone
      std::string("\x00\n\x1B[31m\xFE", 8),
      euros + "\xFF" + euros,
      std::string(300, '\xFF'),
  };
}

// A request's fields besides "id": strings (any bytes) or unsigned integers.
using request_fields = std::vector<std::pair<std::string, std::variant<std::string, uint64_t>>>;

template <class Packer>
void pack_bytes(Packer& pk, const std::string& s) {
  pk.pack_str(static_cast<uint32_t>(s.size()));
  pk.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
}

// Packs a request map: "id", then every field, string bytes as given.
std::string frame_of(uint64_t id, const request_fields& kv) {
  msgpack::sbuffer body;
  msgpack::packer<msgpack::sbuffer> pk(body);
  pk.pack_map(static_cast<uint32_t>(1 + kv.size()));
  pk.pack("id");
  pk.pack(id);
  for (auto& [k, v] : kv) {
    pack_bytes(pk, k);
    if (auto* text = std::get_if<std::string>(&v))
      pack_bytes(pk, *text);
    else
      pk.pack(std::get<uint64_t>(v));
  }
  std::string out;
  net::append_frame_header(out, static_cast<uint32_t>(body.size()));
  return out.append(body.data(), body.size());
}

class Utf8Replies : public ::testing::Test {
 protected:
  // Loose limits: every hostile login reaches the password check and its
  // record, instead of stopping at the limiter.
  Utf8Replies()
      : node("[testing]\nfault_injection = true\n"
             "[limiter.user]\nrate_per_s = 100000\nburst = 100000\nlockout_after = 0\n"
             "[limiter.ip]\nrate_per_s = 100000\nburst = 100000\nlockout_after = 0\n"
             "[limiter.user_ip]\nrate_per_s = 100000\nburst = 100000\nlockout_after = 0\n"),
        client(node.connect()) {}

  // Sends one request; its reply must come, carry the request's id and hold
  // only UTF-8 strings. Returns it.
  net::reply_view exchange(const request_fields& kv) {
    uint64_t id = next_id++;
    client.queue_raw(frame_of(id, kv));
    client.flush();
    auto r = client.receive(10s);
    if (!r)
      throw std::runtime_error("no reply within 10 s");
    EXPECT_EQ(r->id, id) << "the connection-level reply means the request was not read: "
                         << r->error;
    std::vector<std::string> bad;
    find_bad_strings(r->body.get(), "reply", bad);
    EXPECT_TRUE(bad.empty()) << "not UTF-8: " << ::testing::PrintToString(bad) << " (reply "
                             << r->error << ", request " << kv.size() << " fields, op "
                             << ::testing::PrintToString(std::get<std::string>(kv[0].second))
                             << ")";
    ++checked;
    return std::move(*r);
  }

  // A well-formed value for each field, so the hostile one is what gets read.
  std::variant<std::string, uint64_t> good_value(net::field f) const {
    switch (f) {
      case net::field::token: return admin_token;
      case net::field::user: return "nobody";
      case net::field::password: return "not-the-password";
      case net::field::ip: return "192.0.2.7";
      case net::field::target: return "no_such_target";  // never crash anything here
      case net::field::count: return uint64_t{1};
      case net::field::consistency: return "owner";
    }
    return std::string();
  }

  authd_process node;
  net::client client;
  std::string admin_token;
  uint64_t next_id = 1;
  size_t checked = 0;
};

TEST_F(Utf8Replies, EveryStringFieldOfEveryOpGetsUtf8Replies) {
  auto admin = client.login("ops", ops_password);
  ASSERT_TRUE(admin.ok) << admin.error;
  admin_token = admin.as<net::login_reply>().token;
  for (const auto& spec : net::ops) {
    if (spec.kind == net::op_kind::unknown)
      continue;
    for (const auto& f : net::fields) {
      if (!spec.reads().contains(f.id))
        continue;
      for (const auto& bad : hostile_strings()) {
        request_fields kv{{"op", std::string(spec.name)}};
        for (const auto& other : net::fields)
          if (spec.reads().contains(other.id))
            kv.emplace_back(std::string(other.name),
                            other.id == f.id ? std::variant<std::string, uint64_t>(bad)
                                             : good_value(other.id));
        exchange(kv);
      }
    }
  }
  EXPECT_GT(checked, 150u);
  EXPECT_TRUE(client.ping().ok);
}

TEST_F(Utf8Replies, RevokeUserEchoesAHostileUserAsUtf8) {
  auto admin = client.login("ops", ops_password);
  ASSERT_TRUE(admin.ok) << admin.error;
  for (const auto& bad : hostile_strings()) {
    auto r = exchange({{"op", "revoke_user"}, {"token", admin.as<net::login_reply>().token},
                       {"user", bad}});
    ASSERT_TRUE(r.ok) << r.error << " " << r.message;
    auto reply = r.as<net::revoke_user_reply>();
    EXPECT_EQ(reply.revoked, 0u);
    EXPECT_FALSE(reply.user.empty());
  }
}

TEST_F(Utf8Replies, UnknownOpsAreNamedInUtf8CutBetweenCharacters) {
  for (const auto& bad : hostile_strings()) {
    auto r = exchange({{"op", bad}});
    EXPECT_EQ(r.error, "unknown_op");
    EXPECT_LE(r.message.size(), std::string("unknown op \"\" (cut)").size() + 32) << r.message;
  }
  auto ping_and_more = exchange({{"op", "ping\xFF"}});
  EXPECT_EQ(ping_and_more.message, "unknown op \"ping\xEF\xBF\xBD\"");
  std::string euros;
  for (int i = 0; i < 11; ++i)
    euros += "\xE2\x82\xAC";
  // The reply: ten whole euro signs, and it says it was cut.
  EXPECT_EQ(exchange({{"op", euros}}).message,
            "unknown op \"" + euros.substr(0, 30) + "\" (cut)");
  EXPECT_TRUE(client.ping().ok);
}

// Keys are ignored when the op does not read them, whatever their bytes;
// ops without fields are hit here too.
TEST_F(Utf8Replies, HostileKeysAndExtraFieldsAreIgnored) {
  for (const auto& spec : net::ops) {
    if (!spec.reads().empty() || spec.kind == net::op_kind::unknown)
      continue;
    for (const auto& bad : hostile_strings()) {
      auto r = exchange({{"op", std::string(spec.name)}, {bad, bad}, {"token", bad}});
      EXPECT_TRUE(r.ok) << spec.name << ": " << r.error << " " << r.message;
    }
  }
  // The node still serves, and a good login still works after all of this.
  auto c = node.connect();
  auto login = c.login("alice", alice_password);
  ASSERT_TRUE(login.ok) << login.error;
  EXPECT_TRUE(c.validate(login.as<net::login_reply>().token).ok);
}

// The audit log keeps a hostile login's user as it came; authctl shows it
// safely: --json prints JSON (which must be UTF-8), and a text line stays one
// line with no control character or ill-formed byte for the terminal.
TEST_F(Utf8Replies, TheAuditTrailShowsHostileUsersSafely) {
  auto hostile = hostile_strings();
  for (const auto& bad : hostile)
    EXPECT_EQ(exchange({{"op", "login"}, {"user", bad}, {"password", "x"}}).error,
              "bad_credentials");
  auto json = run_program(
      {CASTELLAN_AUTHCTL, "--json", "audit", "tail", node.audit_dir(), "--kind", "login_failed"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  std::istringstream lines(json.out);
  size_t parsed = 0;
  for (std::string line; std::getline(lines, line);) {
    EXPECT_NO_THROW(nlohmann::json::parse(line)) << line;
    ++parsed;
  }
  EXPECT_EQ(parsed, hostile.size());
  auto text =
      run_program({CASTELLAN_AUTHCTL, "audit", "tail", node.audit_dir(), "--kind", "login_failed"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(strict_utf8(text.out));
  auto text_lines = std::count(text.out.begin(), text.out.end(), '\n');
  EXPECT_EQ(static_cast<size_t>(text_lines), hostile.size());
  auto control = [](char ch) {
    auto b = static_cast<unsigned char>(ch);
    return (b < 0x20 && ch != '\n') || b == 0x7F;
  };
  EXPECT_EQ(std::count_if(text.out.begin(), text.out.end(), control), 0) << text.out;
}

}  // namespace
}  // namespace castellan::test
