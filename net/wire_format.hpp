// Constants of the client wire format, shared by the server codec and the
// client library. docs/protocol.md is the prose version of this file; the two
// change together.
#pragma once

#include <cstddef>
#include <cstdint>

namespace castellan::net {

// A frame is a 4-byte big-endian unsigned body length, then the body: exactly
// one msgpack value of that many bytes.
inline constexpr size_t frame_header_bytes = 4;

// Request id used in replies that cannot name a request (too_large, a body that
// is not msgpack, a frame cut off by EOF).
inline constexpr uint64_t connection_level_id = 0;

// Token layout before base64url (no padding) encoding:
//   [0]      version (token_version)
//   [1..4]   key id, big-endian uint32
//   [5..20]  session id, 16 random bytes
//   [21..36] keyed BLAKE2b-128 MAC over bytes [0..20]
// A certificate-bound token (op login_certificate, RFC 8705's idea) has
// version token_version_bound, and its MAC covers bytes [0..20] followed by
// the SHA-256 of the client certificate it was issued to: it verifies only
// on a connection that presents that certificate.
inline constexpr uint8_t token_version = 1;
inline constexpr uint8_t token_version_bound = 2;
inline constexpr size_t certificate_digest_bytes = 32;  // SHA-256
inline constexpr size_t session_id_bytes = 16;
inline constexpr size_t token_mac_bytes = 16;
inline constexpr size_t token_key_bytes = 32;
inline constexpr size_t token_raw_bytes = 1 + 4 + session_id_bytes + token_mac_bytes;  // 37
inline constexpr size_t token_text_bytes = 50;  // base64url of 37 bytes, no padding

}  // namespace castellan::net
