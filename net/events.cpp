// Event kind names; see events.hpp.
#include "net/events.hpp"

#include <array>

#include "net/wall_clock.hpp"

namespace castellan::net {
namespace {

constexpr std::array<std::string_view, 16> names{
  "login_ok",      "login_failed",    "logout",        "refresh",     "session_expired",
  "token_refused", "rate_limited",    "lockout_started", "lockout_ended", "user_changed",
  "config_reloaded", "node_started",  "node_stopping", "key_rotated", "key_retired",
  "sessions_revoked",
};

}  // namespace

std::string_view to_string(event_kind kind) { return names[static_cast<size_t>(kind)]; }

bool event_kind_from_string(std::string_view text, event_kind& out) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == text) {
      out = static_cast<event_kind>(i);
      return true;
    }
  return false;
}

auth_event make_event(event_kind kind, std::string node) {
  auth_event e;
  e.kind = std::string(to_string(kind));
  e.time_ms = wall_ms();
  e.node = std::move(node);
  return e;
}

}  // namespace castellan::net
