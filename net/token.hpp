// Session tokens: key id + random 128-bit session id + keyed BLAKE2b MAC,
// base64url. The MAC lets the front door refuse a forged or damaged token
// without asking any shard. A keyring holds several keys so they can rotate:
// the primary signs, every key verifies. Layout: net/wire_format.hpp.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/wire_format.hpp"

namespace castellan::net {

using session_id = std::array<uint8_t, session_id_bytes>;

// The SHA-256 of a client certificate (DER): what a bound token is bound to.
using certificate_digest = std::array<uint8_t, certificate_digest_bytes>;

// What names a session inside the node: the token's MAC tag, a keyed
// BLAKE2b-128 of the session id. Sessions are stored, logged and
// snapshotted under it; it is one-way, so neither the data directory nor the
// audit log, even together with the MAC keys, gives back a session id and
// hence a token (recovering one is a BLAKE2b preimage). The front door
// computes it anyway to check the MAC, so keying sessions by it is free.
using session_key = std::array<uint8_t, token_mac_bytes>;

struct minted_token {
  std::string token;  // for the client only: never stored, logged or sent to a peer
  session_key key;
};

// A new random session id (libsodium randombytes).
session_id random_session_id();

struct token_key {
  uint32_t id = 0;
  std::array<uint8_t, token_key_bytes> secret{};
  int64_t created_ms = 0;
  int64_t retire_at_ms = 0;  // 0: in use; else tokens it signed stop verifying then
};

// Immutable after construction: shared read-only between threads.
class keyring {
 public:
  // `keys` must not be empty; `primary_id` must name one of them.
  keyring(std::vector<token_key> keys, uint32_t primary_id);

  // Signs with the primary key; with `bound_to`, a token that verifies only
  // with that certificate digest (its session key depends on it too).
  minted_token mint(const session_id& sid, const certificate_digest* bound_to = nullptr) const;

  // The session key if `token` is well formed and its MAC verifies with a
  // known key, otherwise nothing. Constant-time in the MAC comparison. A
  // bound token verifies only when `presented` is the digest it was bound to
  // (the certificate of the connection it arrived on; null: none).
  std::optional<session_key> verify(std::string_view token,
                                    const certificate_digest* presented = nullptr) const;

  uint32_t primary_id() const { return primary_->id; }

  // The keys still in force at `now_ms` (those whose retire_at_ms has
  // passed are left out; the primary never retires).
  keyring in_force(int64_t now_ms) const;
  const std::vector<token_key>& keys() const { return keys_; }

 private:
  const token_key* find(uint32_t id) const;

  std::vector<token_key> keys_;
  const token_key* primary_ = nullptr;
};

// Hex rendering of a session key, safe to log (one-way), and back.
std::string session_digest(const session_key& key);
std::optional<session_key> session_key_from_digest(std::string_view hex);

}  // namespace castellan::net
