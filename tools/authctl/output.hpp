// authctl's output: human-readable lines by default, JSON with --json, and
// the documented exit codes. msgpack replies are rendered through one
// converter so every command prints the server's fields the same way.
#pragma once

#include <string>

#include <msgpack.hpp>
#include <nlohmann/json.hpp>

namespace castellan::authctl {

// Exit codes (docs/commands.md).
enum exit_code : int {
  exit_ok = 0,
  exit_refused = 1,      // the server answered with an error (bad_credentials, invalid_token...)
  exit_usage = 2,        // bad command line
  exit_unreachable = 3,  // cannot connect, timed out, connection lost
  exit_file_error = 4,   // users/key/audit file missing, unreadable or invalid
};

nlohmann::json to_json(const msgpack::object& o);

// Prints a reply map: JSON as is, or "key: value" lines (id/ok omitted).
void print_reply(const nlohmann::json& reply, bool json);

// Formats Unix milliseconds as ISO-8601 UTC.
std::string iso_time(int64_t unix_ms);

}  // namespace castellan::authctl
