// The client protocol's request schema, in one table: for each op its wire
// name, its op_kind, the fields it reads and which of those are required.
// The request parser (frame_codec.cpp), op_name() (metrics labels) and the
// request structs (messages.hpp) all read it, so they cannot disagree.
// docs/protocol.md, section 7, is its prose twin; the two change together.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <utility>

namespace castellan::net {

// Also the index of the op in `ops` below and in request_stats: only ever append.
enum class op_kind {
  ping, login, validate, refresh, logout, unknown, health, debug_crash, metrics_summary, debug_populate,
  cluster_status, revoke_user, login_certificate
};

// Every field a request may carry besides "id" and "op". Required fields are
// checked in this order, so a request missing several is told about the first.
enum class field : uint8_t { token, user, password, ip, target, count, consistency };

// What a field's value must be, and what "missing" means for a required one.
enum class field_type : uint8_t {
  text,              // a string; missing when absent or empty
  positive_integer,  // an unsigned integer; missing when absent or 0
  consistency,       // "owner" or "local"; never required
};

struct field_spec {
  field id;
  std::string_view name;  // the map key on the wire
  field_type type;
};

inline constexpr std::array<field_spec, 7> fields{{
    {field::token, "token", field_type::text},
    {field::user, "user", field_type::text},
    {field::password, "password", field_type::text},
    {field::ip, "ip", field_type::text},
    {field::target, "target", field_type::text},
    {field::count, "count", field_type::positive_integer},
    {field::consistency, "consistency", field_type::consistency},
}};

// A set of fields, one bit each: a table row stays a few bytes and a
// membership test is one AND on the parser's hot path.
class field_set {
 public:
  constexpr field_set() = default;
  constexpr field_set(std::initializer_list<field> members) {
    for (auto f : members)
      bits_ |= bit(f);
  }
  constexpr bool contains(field f) const { return (bits_ & bit(f)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr field_set operator|(field_set other) const { return from_bits(bits_ | other.bits_); }
  constexpr field_set operator&(field_set other) const { return from_bits(bits_ & other.bits_); }
  constexpr bool operator==(const field_set&) const = default;

 private:
  static constexpr uint8_t bit(field f) { return static_cast<uint8_t>(1u << static_cast<unsigned>(f)); }
  static constexpr field_set from_bits(uint8_t bits) {
    field_set s;
    s.bits_ = bits;
    return s;
  }
  uint8_t bits_ = 0;
};

struct op_spec {
  op_kind kind;
  std::string_view name;  // the "op" string on the wire, and the ops' metrics label
  field_set required;     // a request lacking one is malformed
  field_set optional;     // read when present
  // Fields the op reads; any other is ignored whatever its type, like an unknown key.
  constexpr field_set reads() const { return required | optional; }
};

// One row per op_kind, in op_kind order. `unknown` stands for any op string
// not listed: it reads nothing and is answered unknown_op.
inline constexpr std::array<op_spec, 13> ops{{
    {op_kind::ping, "ping", {}, {}},
    {op_kind::login, "login", {field::user, field::password}, {field::ip}},
    {op_kind::validate, "validate", {field::token}, {field::consistency}},
    {op_kind::refresh, "refresh", {field::token}, {}},
    {op_kind::logout, "logout", {field::token}, {}},
    {op_kind::unknown, "unknown", {}, {}},
    {op_kind::health, "health", {}, {}},
    {op_kind::debug_crash, "debug_crash", {field::token, field::target}, {}},
    {op_kind::metrics_summary, "metrics_summary", {}, {}},
    {op_kind::debug_populate, "debug_populate", {field::token, field::count}, {}},
    {op_kind::cluster_status, "cluster_status", {}, {}},
    {op_kind::revoke_user, "revoke_user", {field::token, field::user}, {}},
    {op_kind::login_certificate, "login_certificate", {field::user}, {field::ip}},
}};

inline constexpr size_t op_kind_count = ops.size();
inline constexpr size_t field_count = fields.size();
static_assert(field_count <= 8, "field_set holds one bit per field in a byte");

// -- lookups: over the constexpr arrays, no allocation, no map ----------------

constexpr const op_spec& spec_of(op_kind op) { return ops[static_cast<size_t>(op)]; }
constexpr const field_spec& spec_of(field f) { return fields[static_cast<size_t>(f)]; }

constexpr std::string_view op_name(op_kind op) {
  auto i = static_cast<size_t>(op);
  return i < ops.size() ? ops[i].name : std::string_view("unknown");
}
constexpr std::string_view field_name(field f) { return spec_of(f).name; }

namespace detail {
// Unrolled at compile time (a fold over the rows): each test compares with
// a constant name, so a miss costs a length compare, as a hand-written
// if-chain would. Runtime loops over the tables doubled the parser's own
// instructions per validate (callgrind); folded, it is back to the if-chains'.
template <size_t... I>
constexpr op_kind op_from_name(std::string_view name, std::index_sequence<I...>) {
  op_kind kind = op_kind::unknown;
  (void)((ops[I].name == name && (kind = ops[I].kind, true)) || ...);
  return kind;
}
template <size_t... I>
constexpr bool field_from_name(std::string_view name, field_set among, field& out,
                               std::index_sequence<I...>) {
  return ((among.contains(fields[I].id) && fields[I].name == name && (out = fields[I].id, true)) || ...);
}
}  // namespace detail

// The op a wire "op" string names; unknown for any other string.
constexpr op_kind op_from_name(std::string_view name) {
  return detail::op_from_name(name, std::make_index_sequence<ops.size()>{});
}

// The field among `among` (an op's reads(), on the parser's path) that a map
// key names; false when it names none of them.
constexpr bool field_from_name(std::string_view name, field_set among, field& out) {
  return detail::field_from_name(name, among, out, std::make_index_sequence<fields.size()>{});
}
constexpr bool field_from_name(std::string_view name, field& out) {
  field_set all;
  for (const auto& f : fields)
    all = all | field_set{f.id};
  return field_from_name(name, all, out);
}

// -- the table's own invariants, checked at compile time ----------------------

namespace schema_check {
constexpr bool rows_in_enum_order() {
  for (size_t i = 0; i < ops.size(); ++i)
    if (static_cast<size_t>(ops[i].kind) != i)
      return false;
  for (size_t i = 0; i < fields.size(); ++i)
    if (static_cast<size_t>(fields[i].id) != i)
      return false;
  return true;
}
constexpr bool required_and_optional_apart() {
  for (const auto& spec : ops) {
    if (!(spec.required & spec.optional).empty())
      return false;
    for (const auto& f : fields)
      if (f.type == field_type::consistency && spec.required.contains(f.id))
        return false;  // a consistency level has no "missing" value
  }
  return true;
}
constexpr bool names_unique() {
  for (size_t i = 0; i < ops.size(); ++i)
    for (size_t j = i + 1; j < ops.size(); ++j)
      if (ops[i].name == ops[j].name)
        return false;
  return true;
}
}  // namespace schema_check

static_assert(schema_check::rows_in_enum_order(), "ops and fields rows must follow their enums");
static_assert(schema_check::required_and_optional_apart(), "a field is required or optional, not both");
static_assert(schema_check::names_unique(), "two ops share a wire name");

}  // namespace castellan::net
