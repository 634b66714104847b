// A cluster member's state, and the one table of its names. The names are
// what members gossip on the wire (peer messages), what /cluster and op
// cluster_status show and what castellan_cluster_members{state} labels, so
// they live here, below all three, and nowhere else (docs/cluster.md,
// "Membership"). On the wire the state stays a string: an enum's number would
// tie every member to this order.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include <msgpack.hpp>

namespace castellan::net {

// In the order of member_state_names (and of the metric's series).
enum class member_state : uint8_t { joining, up, suspect, down, leaving, left };

inline constexpr size_t member_state_count = 6;

inline constexpr std::array<std::string_view, member_state_count> member_state_names = {
    "joining", "up", "suspect", "down", "leaving", "left"};

inline constexpr std::array<member_state, member_state_count> all_member_states = {
    member_state::joining, member_state::up,      member_state::suspect,
    member_state::down,    member_state::leaving, member_state::left};

constexpr size_t index_of(member_state s) { return static_cast<size_t>(s); }

constexpr std::string_view to_string(member_state s) { return member_state_names[index_of(s)]; }

// The state a name stands for; nullopt for a name this build does not know.
constexpr std::optional<member_state> member_state_from(std::string_view name) {
  for (auto s : all_member_states)
    if (to_string(s) == name)
      return s;
  return std::nullopt;
}

}  // namespace castellan::net

// msgpack: a member_state travels as its name. A name this build does not
// know (from a newer member) reads as `down`: neither owning nor holding,
// which is how an unknown state has always been treated.
namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
namespace adaptor {

template <>
struct convert<castellan::net::member_state> {
  const msgpack::object& operator()(const msgpack::object& o,
                                    castellan::net::member_state& v) const {
    if (o.type != msgpack::type::STR)
      throw msgpack::type_error();
    v = castellan::net::member_state_from(std::string_view(o.via.str.ptr, o.via.str.size))
            .value_or(castellan::net::member_state::down);
    return o;
  }
};

template <>
struct pack<castellan::net::member_state> {
  template <class Stream>
  msgpack::packer<Stream>& operator()(msgpack::packer<Stream>& o,
                                      castellan::net::member_state v) const {
    auto name = castellan::net::to_string(v);
    o.pack_str(static_cast<uint32_t>(name.size()));
    o.pack_str_body(name.data(), static_cast<uint32_t>(name.size()));
    return o;
  }
};

// The names are static, so an object may point at them without a copy.
template <>
struct object<castellan::net::member_state> {
  void operator()(msgpack::object& o, castellan::net::member_state v) const {
    auto name = castellan::net::to_string(v);
    o.type = msgpack::type::STR;
    o.via.str.ptr = name.data();
    o.via.str.size = static_cast<uint32_t>(name.size());
  }
};

template <>
struct object_with_zone<castellan::net::member_state> {
  void operator()(msgpack::object::with_zone& o, castellan::net::member_state v) const {
    object<castellan::net::member_state>()(o, v);
  }
};

}  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS)
}  // namespace msgpack
