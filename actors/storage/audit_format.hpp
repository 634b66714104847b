// The audit log's on-disk format, shared by the writer (audit_log.cpp) and
// the reader (audit_reader.cpp, used by `authctl audit verify|tail`).
// docs/audit-format.md is the prose version; the two change together.
//
// A log is a directory of segments named audit-<segment number, 8 digits>.log.
// Each segment is preallocated (zeros) and starts with a 64-byte header:
//
//   offset size  field
//   0      8     magic "CSTLAUD1"
//   8      8     segment number, u64 big-endian (1, 2, 3, ...)
//   16     8     index of the segment's first record, u64 BE (records count from 1)
//   24     32    chain hash before that record (last hash of the previous segment;
//                32 zero bytes for the log's first record)
//   56     4     reserved, zero
//   60     4     CRC32C of bytes 0..59, u32 BE
//
// then records, back to back:
//
//   0      4     body length n, u32 BE, 1 <= n <= max_record_body
//   4      4     CRC32C over bytes 8 .. 40+n (hash and body), u32 BE
//   8      32    hash = BLAKE2b-256(previous hash || record index u64 BE || body)
//   40     n     body: one msgpack map, an auth_event (net/events.hpp)
//
// A body length of 0 (the preallocated zeros) ends the segment's records.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace castellan::actors::audit_format {

inline constexpr char magic[8] = {'C', 'S', 'T', 'L', 'A', 'U', 'D', '1'};
inline constexpr size_t header_bytes = 64;
inline constexpr size_t record_header_bytes = 40;  // length + crc + hash
inline constexpr size_t hash_bytes = 32;
inline constexpr uint32_t max_record_body = 64 * 1024;

using chain_hash = std::array<uint8_t, hash_bytes>;

struct segment_header {
  uint64_t segment = 0;
  uint64_t first_index = 0;
  chain_hash prev_hash{};
};

// "audit-00000042.log"
std::string segment_file_name(uint64_t segment);
// The segment number of a file name, 0 if it is not a segment's name.
uint64_t segment_number(const std::string& file_name);

void encode_header(const segment_header& h, uint8_t out[header_bytes]);
// False if the magic or the CRC is wrong.
bool decode_header(const uint8_t in[header_bytes], segment_header& h);

// hash = BLAKE2b-256(prev || index BE || body)
chain_hash chain(const chain_hash& prev, uint64_t index, const void* body, size_t n);

// Appends one record (header + body) to `out`.
void encode_record(std::string& out, const chain_hash& hash, const void* body, size_t n);

// The big-endian (BE) integers of this layout are read and written with
// net/byte_order.hpp, like every other fixed byte-order integer.

}  // namespace castellan::actors::audit_format
