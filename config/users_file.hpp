// The users file: who may log in, with argon2id hashes, roles and an enabled
// flag. TOML, edited by `authctl user ...`, read by every node at start and
// re-read when it changes. Writes are atomic (temp file, fsync, rename), mode 0600.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace castellan::config {

struct user_record {
  std::string name;
  std::string password_hash;  // argon2id PHC string ($argon2id$v=19$m=...,t=...,p=1$...).
  std::vector<std::string> roles;
  bool enabled = true;
  // Client certificates that prove this user without a password (op
  // login_certificate over mutual TLS), each "CN=<common name>",
  // "DNS:<subjectAltName DNS>" or "URI:<subjectAltName URI>".
  std::vector<std::string> certificates;
  // The process's number for this name (actors/directory/user_numbers.hpp):
  // the same across reloads, so a session can name its user in 4 bytes.
  // 0 until numbered; never written to the users file.
  uint32_t id = 0;

  // True when one of `presented` (a client certificate's names, in the
  // same forms) is one of this user's certificates.
  bool proven_by(const std::vector<std::string>& presented) const;
};

// True when `name` has one of the forms user_record::certificates takes.
bool valid_certificate_name(const std::string& name);

// An immutable snapshot of the users file, shared between threads by
// shared_ptr<const users_table>: a reload publishes a new one, never edits.
struct users_table {
  std::map<std::string, user_record> by_name;

  const user_record* find(const std::string& name) const;
};

// Parses a users file's text; throws config_error naming origin and the entry.
users_table parse_users(const std::string& toml_text, const std::string& origin);

// Reads a users file; throws config_error if unreadable or invalid.
users_table load_users(const std::string& path);

// Renders a table as users-file TOML.
std::string render_users(const users_table& table);

// Writes the table atomically with mode 0600; throws config_error on I/O failure.
void save_users(const users_table& table, const std::string& path);

// What changed per user between two snapshots: (name, reason) with reason
// one of added, removed, disabled, enabled, roles, password, certificates.
// Sorted by name.
std::vector<std::pair<std::string, std::string>> diff_users(const users_table& before,
                                                            const users_table& after);

// Valid user names: 1-64 characters of [A-Za-z0-9._@-].
bool valid_user_name(const std::string& name);

}  // namespace castellan::config

namespace castellan::config {

// If `path` does not exist, creates it (mode 0600) with one enabled user
// "admin" with role "admin" and a random password, and returns that password
// so the caller can show it once. Returns nothing if the file already exists.
std::optional<std::string> bootstrap_users_file(const std::string& path,
                                                uint32_t argon2_memory_kib,
                                                uint32_t argon2_iterations);

}  // namespace castellan::config
