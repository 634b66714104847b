// msgpack decoding limits for bytes that came from outside the process (a
// client, a cluster member, a file). Without limits, msgpack-c reserves what
// a container header claims before reading a single element: five bytes
// claiming 2^32 entries cost gigabytes. No container can hold more elements,
// and no string more bytes, than the body has bytes; nothing we decode nests
// deeper than 32.
#pragma once

#include <cstddef>

#include <msgpack.hpp>

namespace castellan::net {

inline constexpr size_t max_msgpack_depth = 32;

inline msgpack::unpack_limit limits_for(size_t body_bytes, size_t depth = max_msgpack_depth) {
  return msgpack::unpack_limit(body_bytes, body_bytes, body_bytes, body_bytes, body_bytes, depth);
}

// One msgpack value from `data`, within limits_for(size). Throws msgpack's
// exceptions (std::exception) on malformed or oversized input.
inline msgpack::object_handle unpack_bounded(const char* data, size_t size) {
  return msgpack::unpack(data, size, nullptr, nullptr, limits_for(size));
}

// The same into `zone` (a reader that decodes many values reuses one zone).
inline msgpack::object unpack_bounded(msgpack::zone& zone, const char* data, size_t size) {
  size_t offset = 0;
  bool referenced = false;
  return msgpack::unpack(zone, data, size, offset, referenced, nullptr, nullptr, limits_for(size));
}

}  // namespace castellan::net
