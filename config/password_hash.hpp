// argon2id password hashing through libsodium's crypto_pwhash_str. Hashing and
// verification are deliberately slow (tens of ms): callers run them on a
// dedicated pool, never on CAF's scheduler threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace castellan::config {

struct argon2_params {
  uint32_t memory_kib = 19456;  // m: 19 MiB, OWASP's minimum for argon2id.
  uint32_t iterations = 2;      // t.
};

// Returns a PHC string ("$argon2id$v=19$m=...,t=...,p=1$salt$hash").
// Throws std::runtime_error if libsodium cannot allocate the memory.
std::string hash_password(const std::string& password, argon2_params params);

// True if `password` matches `phc_hash`. The cost is taken from the hash itself.
bool verify_password(const std::string& password, const std::string& phc_hash);

// The cost recorded in a PHC string; nothing if it is not an argon2id hash.
std::optional<argon2_params> params_of(const std::string& phc_hash);

// A random password of `length` characters from an unambiguous alphabet.
std::string random_password(size_t length = 24);

// Makes sure libsodium is initialised; safe to call from any thread, many times.
void init_sodium();

}  // namespace castellan::config
