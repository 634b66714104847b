// Every message of the client protocol, declared once. The client library
// encodes requests and decodes replies with these structs; the server decodes
// requests and encodes replies with the same ones (see frame_codec.hpp).
// Map encoding (MSGPACK_DEFINE_MAP) lets a newer peer add fields safely.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <msgpack.hpp>

namespace castellan::net {

// -- requests: {"id": uint, "op": string, ...fields} ------------------------

struct ping_request {
  uint64_t id = 0;
  std::string op = "ping";
  MSGPACK_DEFINE_MAP(id, op)
};

struct login_request {
  uint64_t id = 0;
  std::string op = "login";
  std::string user;
  std::string password;
  std::string ip;  // optional: the end user's address, when a gateway logs in for them
  MSGPACK_DEFINE_MAP(id, op, user, password, ip)
};

// validate, refresh and logout carry only a token.
struct token_request {
  uint64_t id = 0;
  std::string op;
  std::string token;
  MSGPACK_DEFINE_MAP(id, op, token)
};

// validate may ask for a read from any node that holds the session
// ("local": possibly stale, see docs/cluster.md) instead of its owner ("owner").
struct validate_request {
  uint64_t id = 0;
  std::string op = "validate";
  std::string token;
  std::string consistency = "owner";
  MSGPACK_DEFINE_MAP(id, op, token, consistency)
};

// Ends every session of `user`, on every member (an admin, or the user themself).
struct revoke_user_request {
  uint64_t id = 0;
  std::string op = "revoke_user";
  std::string token;  // the caller's
  std::string user;
  MSGPACK_DEFINE_MAP(id, op, token, user)
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
  uint64_t id = 0;
  std::string op = "cluster_status";
  MSGPACK_DEFINE_MAP(id, op)
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

struct error_reply {
  uint64_t id = 0;
  bool ok = false;
  std::string error;    // an error_code name
  std::string message;  // for humans; never contains a secret
  MSGPACK_DEFINE_MAP(id, ok, error, message)
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
  uint64_t id = 0;
  std::string op = "metrics_summary";
  MSGPACK_DEFINE_MAP(id, op)
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
  uint64_t id = 0;
  std::string op = "debug_populate";
  std::string token;  // an admin's token
  uint64_t count = 0;
  MSGPACK_DEFINE_MAP(id, op, token, count)
};

struct debug_populate_reply {
  uint64_t id = 0;
  bool ok = true;
  uint64_t created = 0;
  MSGPACK_DEFINE_MAP(id, ok, created)
};

// Fault injection (testing.fault_injection): make an actor throw.
struct debug_crash_request {
  uint64_t id = 0;
  std::string op = "debug_crash";
  std::string token;   // an admin's token
  std::string target;  // session_shard, limiter_shard or audit_writer
  MSGPACK_DEFINE_MAP(id, op, token, target)
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
