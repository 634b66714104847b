// The key file: token MAC keys persisted as JSON, mode 0600, so a restart does
// not invalidate the tokens already handed out. Rotation adds a key and makes
// it primary; old keys keep verifying until retired.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "net/token.hpp"

namespace castellan::net {

struct key_file_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Loads the key file, or creates it with one fresh key if it does not exist.
// Throws key_file_error if the file is unreadable, corrupt, or group/world readable.
std::shared_ptr<const keyring> load_or_create_key_file(const std::string& path);

// Reads an existing key file; throws key_file_error.
keyring load_key_file(const std::string& path);

// Adds a fresh key and makes it primary; the keys it supersedes retire
// `grace_ms` from now (tokens they signed verify until then), and keys whose
// retirement has passed are dropped from the file. Returns the new key id.
uint32_t rotate_key_file(const std::string& path, int64_t grace_ms);

// Removes key `id` (it must not be primary) and saves.
void retire_key(const std::string& path, uint32_t id);

}  // namespace castellan::net
