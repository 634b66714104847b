// CRC32C (Castagnoli), the checksum of audit records. Uses the SSE4.2
// instruction when the CPU has it, a table otherwise; both give the same
// values (tested against the RFC 3720 check value).
#pragma once

#include <cstddef>
#include <cstdint>

namespace castellan::actors {

// Extends `crc` (0 to start) over `n` bytes.
uint32_t crc32c(uint32_t crc, const void* data, size_t n);

}  // namespace castellan::actors
