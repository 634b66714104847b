// Every message of the client protocol, declared once. The client library
// encodes requests and decodes replies with these structs; the server decodes
// requests (as a request_view, by net/protocol_schema.hpp) and encodes replies
// with the same ones (see frame_codec.hpp). Map encoding lets a newer peer add
// fields safely.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>

#include "net/error_code.hpp"
#include "net/protocol_schema.hpp"
#include "net/utf8.hpp"

namespace castellan::net {

// -- requests: {"id": uint, "op": string, ...fields} ------------------------
//
// A request's op is a constant of its type (`op`), not a member: a struct can
// only ever send its own op. Requests are encoded, never decoded (the server
// parses a request_view), so they have msgpack_pack only.

namespace detail {
// An optional field is sent only when it has a value.
template <class T>
constexpr bool has_value(const T&) { return true; }
template <class T>
constexpr bool has_value(const std::optional<T>& v) { return v.has_value(); }

template <class Packer, class T>
void pack_field(Packer& pk, field f, const T& value) {
  pk.pack(field_name(f));
  pk.pack(value);
}
template <class Packer, class T>
void pack_field(Packer& pk, field f, const std::optional<T>& value) {
  if (value)
    pack_field(pk, f, *value);
}
}  // namespace detail

// Packs {"id", "op", then each of Fields with its value}, in that order: the
// op's wire name and the field names come from the schema, and a struct that
// sends a field its op does not read, or lacks a required one, does not compile.
template <op_kind Op, field... Fields, class Packer, class... Values>
void pack_request(Packer& pk, uint64_t id, const Values&... values) {
  static_assert(sizeof...(Fields) == sizeof...(Values), "one value per field");
  constexpr field_set sent{Fields...};
  static_assert((spec_of(Op).reads() & sent) == sent, "a field the op does not read");
  static_assert((spec_of(Op).required & sent) == spec_of(Op).required, "a required field is missing");
  pk.pack_map(static_cast<uint32_t>(2 + (0 + ... + (detail::has_value(values) ? 1 : 0))));
  pk.pack("id");
  pk.pack(id);
  pk.pack("op");
  pk.pack(op_name(Op));
  (detail::pack_field(pk, Fields, values), ...);
}

struct ping_request {
  static constexpr op_kind op = op_kind::ping;
  uint64_t id = 0;
  template <class Packer>
  void msgpack_pack(Packer& pk) const { pack_request<op>(pk, id); }
};

struct health_request {
  static constexpr op_kind op = op_kind::health;
  uint64_t id = 0;
  template <class Packer>
  void msgpack_pack(Packer& pk) const { pack_request<op>(pk, id); }
};

struct login_request {
  static constexpr op_kind op = op_kind::login;
  uint64_t id = 0;
  std::string user;
  std::string password;
  std::string ip;  // optional: the end user's address, when a gateway logs in for them
  template <class Packer>
  void msgpack_pack(Packer& pk) const {
    pack_request<op, field::user, field::password, field::ip>(pk, id, user, password, ip);
  }
};

// A login proven by the client certificate of a mutual-TLS connection
// instead of a password; its token is bound to that certificate.
struct login_certificate_request {
  static constexpr op_kind op = op_kind::login_certificate;
  uint64_t id = 0;
  std::string user;
  std::string ip;  // optional, as for login
  template <class Packer>
  void msgpack_pack(Packer& pk) const { pack_request<op, field::user, field::ip>(pk, id, user, ip); }
};

// refresh and logout carry only a token.
template <op_kind Op>
struct token_request {
  static constexpr op_kind op = Op;
  uint64_t id = 0;
  std::string token;
  template <class Packer>
  void msgpack_pack(Packer& pk) const { pack_request<op, field::token>(pk, id, token); }
};
using refresh_request = token_request<op_kind::refresh>;
using logout_request = token_request<op_kind::logout>;

// validate may ask for a read from any node that holds the session
// ("local": possibly stale, see docs/cluster.md) instead of its owner
// ("owner"); without `consistency` the key is not sent and the owner answers.
struct validate_request {
  static constexpr op_kind op = op_kind::validate;
  uint64_t id = 0;
  std::string token;
  std::optional<std::string> consistency = std::nullopt;  // "owner" or "local"
  template <class Packer>
  void msgpack_pack(Packer& pk) const {
    pack_request<op, field::token, field::consistency>(pk, id, token, consistency);
  }
};

// Ends every session of `user`, on every member (an admin, or the user themself).
struct revoke_user_request {
  static constexpr op_kind op = op_kind::revoke_user;
  uint64_t id = 0;
  std::string token;  // the caller's
  std::string user;
  template <class Packer>
  void msgpack_pack(Packer& pk) const {
    pack_request<op, field::token, field::user>(pk, id, token, user);
  }
};

struct revoke_user_reply {
  uint64_t id = 0;
  bool ok = true;
  std::string user;
  uint64_t revoked = 0;  // sessions ended
  MSGPACK_DEFINE_MAP(id, ok, user, revoked)
};

// Every member as the answering node sees it (`authctl cluster status`).
struct cluster_status_request {
  static constexpr op_kind op = op_kind::cluster_status;
  uint64_t id = 0;
  template <class Packer>
  void msgpack_pack(Packer& pk) const { pack_request<op>(pk, id); }
};

struct member_status {
  std::string name;
  std::string address;       // cluster host:port
  std::string client;        // client host:port
  std::string state;         // joining, up, suspect, down, leaving, left
  bool self = false;
  int64_t last_heard_ms = 0; // Unix ms
  bool ready = false;
  double requests_per_s = 0;
  uint64_t sessions = 0;
  uint64_t restarts = 0;
  MSGPACK_DEFINE_MAP(name, address, client, state, self, last_heard_ms, ready, requests_per_s,
                     sessions, restarts)
};

struct cluster_status_reply {
  uint64_t id = 0;
  bool ok = true;
  std::string node;
  bool clustered = false;
  uint32_t replicas = 1;
  std::vector<member_status> members;
  MSGPACK_DEFINE_MAP(id, ok, node, clustered, replicas, members)
};

// -- replies: {"id": uint, "ok": bool, ...fields} ---------------------------

// Every error reply, whoever sends it (reply_buffer::add): {"id", "ok":
// false, "error", "message"}, and "retry_after_ms" with rate_limited (and
// with unavailable when the node knows when to retry: a login shed under load),
// so the map has 4 or 5 entries. Views, not strings: encoding one allocates
// nothing (unless its message is not UTF-8). Encode-only; clients read errors
// through reply_view.
struct error_reply {
  static constexpr bool ok = false;
  uint64_t id = 0;
  error_code error = error_code::unavailable;
  std::string_view message;                // for humans; never contains a secret
  std::optional<uint64_t> retry_after_ms = std::nullopt;  // when to retry, if known

  template <class Packer>
  void msgpack_pack(Packer& pk) const {
    pk.pack_map(retry_after_ms ? 5 : 4);
    pk.pack("id");
    pk.pack(id);
    pk.pack("ok");
    pk.pack(ok);
    pk.pack("error");
    pk.pack(to_string(error));
    pk.pack("message");
    // Messages are the node's own words, but some quote a client's bytes (or
    // a member's): checked here, so no error reply can carry a non-UTF-8 str.
    if (is_utf8(message))
      pk.pack(message);
    else
      pk.pack(utf8_safe(message));
    if (retry_after_ms) {
      pk.pack("retry_after_ms");
      pk.pack(*retry_after_ms);
    }
  }
};

struct ping_reply {
  uint64_t id = 0;
  bool ok = true;
  std::string node;
  int64_t time_ms = 0;  // the node's wall clock, Unix ms
  MSGPACK_DEFINE_MAP(id, ok, node, time_ms)
};

struct health_reply {
  uint64_t id = 0;
  bool ok = true;
  std::string node;
  bool ready = true;            // serving every op; false: some ops fail closed
  bool audit_writable = true;   // false: login/refresh/logout get `unavailable`
  std::string audit_error;      // why the audit log is not writable
  MSGPACK_DEFINE_MAP(id, ok, node, ready, audit_writable, audit_error)
};

// The monitor's summary of the node (op `metrics_summary`, `authctl status`).
// Rates, error ratios and latency quantiles cover the monitor's last interval;
// totals run since start. Quantiles are bucket upper bounds (as Prometheus's
// histogram_quantile would interpolate them, but without interpolation).
struct metrics_summary_request {
  static constexpr op_kind op = op_kind::metrics_summary;
  uint64_t id = 0;
  template <class Packer>
  void msgpack_pack(Packer& pk) const { pack_request<op>(pk, id); }
};

struct op_summary {
  std::string op;
  uint64_t total = 0;       // replies since start
  double rate_per_s = 0;    // replies per second, last interval
  double error_ratio = 0;   // share of non-ok replies, last interval
  double p50_ms = 0;        // latency from read to reply, last interval
  double p99_ms = 0;
  MSGPACK_DEFINE_MAP(op, total, rate_per_s, error_ratio, p50_ms, p99_ms)
};

struct actor_kind_summary {
  std::string kind;          // session_shard, limiter_shard, audit_writer, ...
  uint64_t restarts = 0;     // since start
  uint64_t mailbox_depth = 0;  // summed over the kind's actors, last sample
  MSGPACK_DEFINE_MAP(kind, restarts, mailbox_depth)
};

struct metrics_summary_reply {
  uint64_t id = 0;
  bool ok = true;
  std::string node;
  int64_t uptime_ms = 0;
  double interval_s = 0;     // what the rates cover
  bool ready = true;
  std::vector<std::string> not_ready;  // reasons, when not ready
  uint64_t sessions_active = 0;
  uint64_t connections_open = 0;
  bool audit_writable = true;
  uint64_t audit_queue_depth = 0;
  uint64_t limiter_rejections = 0;
  uint64_t lockouts = 0;
  std::vector<op_summary> ops;            // ops with any traffic
  std::vector<actor_kind_summary> actors;
  MSGPACK_DEFINE_MAP(id, ok, node, uptime_ms, interval_s, ready, not_ready, sessions_active,
                     connections_open, audit_writable, audit_queue_depth, limiter_rejections,
                     lockouts, ops, actors)
};

// Benchmarks (testing.populate): open `count` sessions for the caller's user
// through the login path minus argon2 (Redis's DEBUG POPULATE). At most
// 100000 per request; the reply comes once their records are durable.
struct debug_populate_request {
  static constexpr op_kind op = op_kind::debug_populate;
  uint64_t id = 0;
  std::string token;  // an admin's token
  uint64_t count = 0;
  template <class Packer>
  void msgpack_pack(Packer& pk) const {
    pack_request<op, field::token, field::count>(pk, id, token, count);
  }
};

struct debug_populate_reply {
  uint64_t id = 0;
  bool ok = true;
  uint64_t created = 0;
  MSGPACK_DEFINE_MAP(id, ok, created)
};

// Fault injection (testing.fault_injection): make an actor throw.
struct debug_crash_request {
  static constexpr op_kind op = op_kind::debug_crash;
  uint64_t id = 0;
  std::string token;   // an admin's token
  std::string target;  // a name of docs/protocol.md, debug_crash (session_shard, ...)
  template <class Packer>
  void msgpack_pack(Packer& pk) const {
    pack_request<op, field::token, field::target>(pk, id, token, target);
  }
};

struct debug_crash_reply {
  uint64_t id = 0;
  bool ok = true;
  std::string target;
  MSGPACK_DEFINE_MAP(id, ok, target)
};

struct login_reply {
  uint64_t id = 0;
  bool ok = true;
  std::string token;
  std::string user;
  std::vector<std::string> roles;
  int64_t expires_at_ms = 0;
  MSGPACK_DEFINE_MAP(id, ok, token, user, roles, expires_at_ms)
};

struct validate_reply {
  uint64_t id = 0;
  bool ok = true;
  std::string user;
  std::vector<std::string> roles;
  int64_t expires_at_ms = 0;
  MSGPACK_DEFINE_MAP(id, ok, user, roles, expires_at_ms)
};

struct refresh_reply {
  uint64_t id = 0;
  bool ok = true;
  int64_t expires_at_ms = 0;
  MSGPACK_DEFINE_MAP(id, ok, expires_at_ms)
};

struct logout_reply {
  uint64_t id = 0;
  bool ok = true;
  MSGPACK_DEFINE_MAP(id, ok)
};

}  // namespace castellan::net
