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
