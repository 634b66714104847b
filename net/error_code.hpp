// The stable error codes of the wire protocol. The enumerator names are the
// wire strings; clients switch on them, so codes are only ever added.
#pragma once

#include <optional>
#include <string_view>

namespace castellan::net {

enum class error_code {
  bad_credentials,  // unknown user or wrong password (indistinguishable on purpose)
  rate_limited,     // too many attempts; retry_after_ms says when to try again
  invalid_token,    // forged, damaged, unknown or logged-out token
  expired,          // the session behind the token has expired
  malformed,        // the frame or request does not follow docs/protocol.md
  too_large,        // the frame's length prefix exceeds the configured maximum
  unavailable,      // the node cannot serve this now (overload, shutdown); retry later
  forbidden,        // authenticated but not allowed (e.g. a disabled user)
  unknown_op,       // the "op" is not one this node knows
};

std::string_view to_string(error_code code);
std::optional<error_code> error_code_from_string(std::string_view text);

}  // namespace castellan::net
