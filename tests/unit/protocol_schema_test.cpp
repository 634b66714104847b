// The schema table (net/protocol_schema.hpp) drives the request parser: every
// op parses with its required fields, each missing one is refused with the
// error clients have always seen, unknown ops classify as unknown, and op
// names (the wire strings and the metrics labels) round-trip. The request
// structs, which take their op from the table, send the bytes they always did.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "net/frame_codec.hpp"
#include "net/messages.hpp"

namespace castellan::net {
namespace {

using value = std::variant<std::string, uint64_t>;
using entries = std::vector<std::pair<std::string, value>>;

std::string body_of(const entries& map) {
  std::stringstream s;
  msgpack::packer<std::stringstream> pk(s);
  pk.pack_map(static_cast<uint32_t>(map.size()));
  for (auto& [key, v] : map) {
    pk.pack(key);
    std::visit([&](auto& x) { pk.pack(x); }, v);
  }
  return s.str();
}

// A valid value for each field, distinct per field so a misplaced one shows.
value valid_value(const field_spec& f) {
  switch (f.type) {
    case field_type::positive_integer: return uint64_t{7};
    case field_type::consistency: return std::string("local");
    case field_type::text: break;
  }
  return "v-" + std::string(f.name);
}

// {"id": 9, "op": <name>, every field the op reads except `skip`}
entries request_for(const op_spec& op, std::optional<field> skip = std::nullopt) {
  entries map{{"id", uint64_t{9}}, {"op", std::string(op.name)}};
  for (auto& f : fields)
    if (op.reads().contains(f.id) && f.id != skip)
      map.emplace_back(std::string(f.name), valid_value(f));
  return map;
}

struct parsed {
  std::string body;  // the view points into it
  parse_result result;
};

parsed parse(const entries& map) {
  static msgpack::zone zone;
  parsed p{body_of(map), {}};
  p.result = parse_request(p.body, zone);
  return p;
}

std::string_view text_of(const request_view& r, field f) {
  switch (f) {
    case field::token: return r.token;
    case field::user: return r.user;
    case field::password: return r.password;
    case field::ip: return r.ip;
    case field::target: return r.target;
    default: return {};
  }
}

TEST(ProtocolSchema, EveryOpParsesWithTheFieldsItReads) {
  for (auto& op : ops) {
    if (op.kind == op_kind::unknown)
      continue;
    auto p = parse(request_for(op));
    ASSERT_EQ(p.result.status, parse_status::ok) << op.name << ": " << p.result.why;
    const auto& r = p.result.request;
    EXPECT_EQ(r.kind, op.kind) << op.name;
    EXPECT_EQ(r.id, 9u);
    EXPECT_EQ(r.op, op.name);
    for (auto& f : fields) {
      bool read = op.reads().contains(f.id);
      if (f.type == field_type::text)
        EXPECT_EQ(text_of(r, f.id), read ? "v-" + std::string(f.name) : "") << op.name << "." << f.name;
      else if (f.type == field_type::positive_integer)
        EXPECT_EQ(r.count, read ? 7u : 0u) << op.name;
      else
        EXPECT_EQ(r.local_read, read) << op.name;
    }
  }
}

TEST(ProtocolSchema, OptionalFieldsMayBeLeftOut) {
  for (auto& op : ops)
    for (auto& f : fields) {
      if (op.optional.contains(f.id)) {
        EXPECT_EQ(parse(request_for(op, f.id)).result.status, parse_status::ok)
            << op.name << " without " << f.name;
      }
    }
}

// The messages are what clients have always been told (docs/protocol.md:
// a required field missing or empty is malformed).
TEST(ProtocolSchema, EachMissingRequiredFieldIsRefusedByName) {
  int refused = 0;
  for (auto& op : ops)
    for (auto& f : fields) {
      if (!op.required.contains(f.id))
        continue;
      auto p = parse(request_for(op, f.id));
      EXPECT_EQ(p.result.status, parse_status::bad_request) << op.name << " without " << f.name;
      EXPECT_EQ(p.result.request.id, 9u);
      std::string expected = f.type == field_type::positive_integer
                                 ? "request needs a positive integer \"" + std::string(f.name) + "\""
                                 : "missing field \"" + std::string(f.name) + "\"";
      EXPECT_EQ(p.result.why, expected) << op.name;
      ++refused;
    }
  EXPECT_EQ(refused, 12);  // every required field of every row; a new one adds to this
}

TEST(ProtocolSchema, MissingFieldMessagesAreTheOnesClientsKnow) {
  auto why = [](entries map) { return parse(map).result.why; };
  EXPECT_EQ(why({{"id", uint64_t{1}}, {"op", std::string("validate")}}), "missing field \"token\"");
  EXPECT_EQ(why({{"id", uint64_t{1}}, {"op", std::string("validate")}, {"token", std::string()}}),
            "missing field \"token\"");  // empty counts as missing
  EXPECT_EQ(why({{"id", uint64_t{1}}, {"op", std::string("login")}, {"user", std::string("a")}}),
            "missing field \"password\"");
  EXPECT_EQ(why({{"id", uint64_t{1}}, {"op", std::string("login")}}), "missing field \"user\"");
  EXPECT_EQ(why({{"id", uint64_t{1}}, {"op", std::string("revoke_user")}, {"token", std::string("t")}}),
            "missing field \"user\"");
  EXPECT_EQ(why({{"id", uint64_t{1}}, {"op", std::string("debug_crash")}}), "missing field \"token\"");
  EXPECT_EQ(why({{"id", uint64_t{1}}, {"op", std::string("debug_populate")}, {"token", std::string("t")},
                 {"count", uint64_t{0}}}),
            "request needs a positive integer \"count\"");
}

TEST(ProtocolSchema, WrongTypesAreRefusedByName) {
  auto why = [](entries map) { return parse(map).result.why; };
  EXPECT_EQ(why({{"id", uint64_t{1}}, {"op", std::string("validate")}, {"token", uint64_t{5}}}),
            "field \"token\" must be a string");
  EXPECT_EQ(why({{"id", uint64_t{1}}, {"op", std::string("debug_populate")}, {"token", std::string("t")},
                 {"count", std::string("5")}}),
            "field \"count\" must be a positive integer");
  EXPECT_EQ(why({{"id", uint64_t{1}}, {"op", std::string("validate")}, {"token", std::string("t")},
                 {"consistency", std::string("eventually")}}),
            "field \"consistency\" must be \"owner\" or \"local\"");
  // A field the op does not read is ignored whatever its type.
  EXPECT_EQ(parse({{"id", uint64_t{1}}, {"op", std::string("refresh")}, {"token", std::string("t")},
                   {"consistency", uint64_t{3}}, {"count", std::string("x")}})
                .result.status,
            parse_status::ok);
}

TEST(ProtocolSchema, AnUnknownOpParsesAsUnknownAndKeepsItsName) {
  auto p = parse({{"id", uint64_t{4}}, {"op", std::string("teleport")}, {"token", uint64_t{1}}});
  ASSERT_EQ(p.result.status, parse_status::ok);
  EXPECT_EQ(p.result.request.kind, op_kind::unknown);
  EXPECT_EQ(p.result.request.op, "teleport");
  EXPECT_EQ(op_from_name(""), op_kind::unknown);
  EXPECT_EQ(op_from_name("Validate"), op_kind::unknown);  // names are case-sensitive
  EXPECT_EQ(op_from_name("validat"), op_kind::unknown);
}

// The names are the wire's "op" strings and the `op` label of every request
// metric: dashboards depend on them, so they are spelled out here once more.
TEST(ProtocolSchema, OpNamesRoundTripAndNeverChange) {
  const std::vector<std::string_view> expected{
      "ping", "login", "validate", "refresh", "logout", "unknown", "health", "debug_crash",
      "metrics_summary", "debug_populate", "cluster_status", "revoke_user", "login_certificate"};
  ASSERT_EQ(op_kind_count, expected.size());
  for (size_t i = 0; i < op_kind_count; ++i) {
    auto kind = static_cast<op_kind>(i);
    EXPECT_EQ(op_name(kind), expected[i]);
    EXPECT_EQ(op_from_name(op_name(kind)), kind);
    EXPECT_EQ(spec_of(kind).kind, kind);
  }
  EXPECT_EQ(op_name(static_cast<op_kind>(op_kind_count)), "unknown");  // out of range
}

TEST(ProtocolSchema, FieldNamesRoundTrip) {
  for (auto& f : fields) {
    field back{};
    ASSERT_TRUE(field_from_name(f.name, back)) << f.name;
    EXPECT_EQ(back, f.id);
    EXPECT_EQ(field_name(f.id), f.name);
  }
  field none{};
  EXPECT_FALSE(field_from_name("id", none));
  EXPECT_FALSE(field_from_name("op", none));
}


// -- request structs ----------------------------------------------------------

template <class Request>
std::string hex_of(const Request& request) {
  std::stringstream s;
  msgpack::pack(s, request);
  std::string out;
  for (unsigned char c : s.str()) {
    constexpr char digits[] = "0123456789abcdef";
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// The bytes every request struct sent when its op was a string member: the
// structs now take op and field names from the schema, and the wire must not
// notice.
TEST(RequestStructs, EncodeTheSameBytesAsEver) {
  EXPECT_EQ(hex_of(ping_request{1}), "82a2696401a26f70a470696e67");
  EXPECT_EQ(hex_of(health_request{2}), "82a2696402a26f70a66865616c7468");
  EXPECT_EQ(hex_of(login_request{3, "alice", "secret", "10.0.0.1"}),
            "85a2696403a26f70a56c6f67696ea475736572a5616c696365a870617373776f7264a6736563726574a26970"
            "a831302e302e302e31");
  EXPECT_EQ(hex_of(validate_request{4, "tok"}), "83a2696404a26f70a876616c6964617465a5746f6b656ea3746f6b");
  EXPECT_EQ(hex_of(refresh_request{5, "tok"}), "83a2696405a26f70a772656672657368a5746f6b656ea3746f6b");
  EXPECT_EQ(hex_of(logout_request{6, "tok"}), "83a2696406a26f70a66c6f676f7574a5746f6b656ea3746f6b");
  EXPECT_EQ(hex_of(validate_request{7, "tok", "local"}),
            "84a2696407a26f70a876616c6964617465a5746f6b656ea3746f6bab636f6e73697374656e6379a56c6f63616c");
  EXPECT_EQ(hex_of(revoke_user_request{8, "tok", "bob"}),
            "84a2696408a26f70ab7265766f6b655f75736572a5746f6b656ea3746f6ba475736572a3626f62");
  EXPECT_EQ(hex_of(cluster_status_request{9}), "82a2696409a26f70ae636c75737465725f737461747573");
  EXPECT_EQ(hex_of(metrics_summary_request{10}), "82a269640aa26f70af6d6574726963735f73756d6d617279");
  EXPECT_EQ(hex_of(debug_populate_request{11, "tok", 100000}),
            "84a269640ba26f70ae64656275675f706f70756c617465a5746f6b656ea3746f6ba5636f756e74ce000186a0");
  EXPECT_EQ(hex_of(debug_crash_request{12, "tok", "audit_writer"}),
            "84a269640ca26f70ab64656275675f6372617368a5746f6b656ea3746f6ba6746172676574ac61756469745f"
            "777269746572");
}

template <class Request>
void expect_parses_as_its_op(const Request& request) {
  std::stringstream s;
  msgpack::pack(s, request);
  auto body = s.str();
  msgpack::zone zone;
  auto p = parse_request(body, zone);
  EXPECT_EQ(p.status, parse_status::ok) << op_name(Request::op) << ": " << p.why;
  EXPECT_EQ(p.request.kind, Request::op);
  EXPECT_EQ(p.request.op, op_name(Request::op));
  EXPECT_EQ(p.request.id, request.id);
}

TEST(RequestStructs, EachParsesBackToItsOp) {
  expect_parses_as_its_op(ping_request{1});
  expect_parses_as_its_op(health_request{2});
  expect_parses_as_its_op(login_request{3, "alice", "secret", ""});
  expect_parses_as_its_op(validate_request{4, "tok"});
  expect_parses_as_its_op(validate_request{4, "tok", "owner"});
  expect_parses_as_its_op(refresh_request{5, "tok"});
  expect_parses_as_its_op(logout_request{6, "tok"});
  expect_parses_as_its_op(revoke_user_request{7, "tok", "bob"});
  expect_parses_as_its_op(cluster_status_request{8});
  expect_parses_as_its_op(metrics_summary_request{9});
  expect_parses_as_its_op(debug_populate_request{10, "tok", 5});
  expect_parses_as_its_op(debug_crash_request{11, "tok", "audit_writer"});
}

}  // namespace
}  // namespace castellan::net
