// Auth events: every outcome of a request, and every change an operator
// makes, is one auth_event. The same struct is what the limiter learns from
// and what the audit log stores on disk (msgpack map, docs/events.md).
// Never holds a password, a token or a session id: a session is named by
// session_digest() of its key (the token's MAC tag, net/token.hpp), which
// cannot be turned back into a session id or a token.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <msgpack.hpp>

namespace castellan::net {

// Event kinds; the names are the wire/disk strings and only ever get added.
enum class event_kind : uint8_t {
  login_ok,
  login_failed,     // reason: bad_password, unknown_user, user_disabled
  logout,
  refresh,
  session_expired,
  token_refused,    // count: refused tokens in one socket read from `ip`
  rate_limited,     // reason: which key kind refused (user, ip, user_ip, lockout)
  lockout_started,  // reason: key kind; until_ms: end of the lockout
  lockout_ended,
  user_changed,     // reason: added, removed, disabled, enabled, roles, password
  config_reloaded,
  node_started,
  node_stopping,
  key_rotated,      // reason: "primary=N": tokens are signed with key N from now on
  key_retired,      // reason: "key=N": tokens signed with key N no longer verify
  sessions_revoked, // op revoke_user: `user`'s sessions ended; reason "by=<caller>", count
};

std::string_view to_string(event_kind kind);
bool event_kind_from_string(std::string_view text, event_kind& out);

struct auth_event {
  std::string kind;         // an event_kind name
  int64_t time_ms = 0;      // Unix ms, the node's clock
  std::string node;         // node name
  std::string user;         // empty when not about a user
  std::string ip;           // source IP when known
  std::string session;      // session_digest(key) hex, never the id or the token
  std::string reason;       // kind-specific detail (see above)
  int64_t until_ms = 0;     // expiry (login_ok, refresh) or lockout end
  uint64_t count = 0;       // token_refused: how many
  MSGPACK_DEFINE_MAP(kind, time_ms, node, user, ip, session, reason, until_ms, count)

  event_kind type() const {
    event_kind k = event_kind::node_started;
    event_kind_from_string(kind, k);
    return k;
  }
};

// Builds an event of `kind` stamped with the wall clock.
auth_event make_event(event_kind kind, std::string node);

}  // namespace castellan::net
