// Fixed byte-order integers, the one copy for every format: frame headers and
// token key ids (big-endian, docs/protocol.md), the audit log (big-endian,
// docs/audit-format.md) and session snapshots (little-endian,
// docs/snapshot-format.md). Header-only, so storage code may use it without
// linking castellan_net.
#pragma once

#include <cstdint>

namespace castellan::net {

// Any one-byte element type: char (frames in std::string), uint8_t (raw
// buffers), std::byte. Written with shifts so the result never depends on the
// host's byte order or alignment; optimising compilers usually turn each into
// one load or store plus a byte swap. constexpr so tests can check them at
// compile time.
template <class Byte>
concept byte_like = sizeof(Byte) == 1;

namespace detail {
template <byte_like Byte>
constexpr uint8_t byte_at(const Byte* p, int i) {
  return static_cast<uint8_t>(p[i]);
}
}  // namespace detail

// -- big-endian ---------------------------------------------------------------

template <byte_like Byte>
constexpr uint32_t load_be32(const Byte* p) {
  return (uint32_t{detail::byte_at(p, 0)} << 24) | (uint32_t{detail::byte_at(p, 1)} << 16) |
         (uint32_t{detail::byte_at(p, 2)} << 8) | uint32_t{detail::byte_at(p, 3)};
}

template <byte_like Byte>
constexpr uint64_t load_be64(const Byte* p) {
  return (uint64_t{load_be32(p)} << 32) | load_be32(p + 4);
}

template <byte_like Byte>
constexpr void store_be32(Byte* p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<Byte>(static_cast<uint8_t>(v >> (24 - 8 * i)));
}

template <byte_like Byte>
constexpr void store_be64(Byte* p, uint64_t v) {
  store_be32(p, static_cast<uint32_t>(v >> 32));
  store_be32(p + 4, static_cast<uint32_t>(v));
}

// -- little-endian ------------------------------------------------------------

template <byte_like Byte>
constexpr uint16_t load_le16(const Byte* p) {
  return static_cast<uint16_t>(detail::byte_at(p, 0) | (detail::byte_at(p, 1) << 8));
}

template <byte_like Byte>
constexpr uint32_t load_le32(const Byte* p) {
  return uint32_t{detail::byte_at(p, 0)} | (uint32_t{detail::byte_at(p, 1)} << 8) |
         (uint32_t{detail::byte_at(p, 2)} << 16) | (uint32_t{detail::byte_at(p, 3)} << 24);
}

template <byte_like Byte>
constexpr uint64_t load_le64(const Byte* p) {
  return uint64_t{load_le32(p)} | (uint64_t{load_le32(p + 4)} << 32);
}

template <byte_like Byte>
constexpr void store_le16(Byte* p, uint16_t v) {
  p[0] = static_cast<Byte>(static_cast<uint8_t>(v));
  p[1] = static_cast<Byte>(static_cast<uint8_t>(v >> 8));
}

template <byte_like Byte>
constexpr void store_le32(Byte* p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<Byte>(static_cast<uint8_t>(v >> (8 * i)));
}

template <byte_like Byte>
constexpr void store_le64(Byte* p, uint64_t v) {
  store_le32(p, static_cast<uint32_t>(v));
  store_le32(p + 4, static_cast<uint32_t>(v >> 32));
}

}  // namespace castellan::net
