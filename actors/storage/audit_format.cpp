// Encoding helpers of the audit format; see audit_format.hpp.
#include "actors/storage/audit_format.hpp"

#include <cstdio>
#include <cstring>

#include <sodium.h>

#include "actors/storage/crc32c.hpp"
#include "net/byte_order.hpp"

namespace castellan::actors::audit_format {

using net::load_be32;
using net::load_be64;
using net::store_be32;
using net::store_be64;

std::string segment_file_name(uint64_t segment) {
  char name[32];
  std::snprintf(name, sizeof name, "audit-%08llu.log", static_cast<unsigned long long>(segment));
  return name;
}

uint64_t segment_number(const std::string& f) {
  if (f.size() < 15 || f.rfind("audit-", 0) != 0 || f.compare(f.size() - 4, 4, ".log") != 0)
    return 0;
  uint64_t n = 0;
  for (size_t i = 6; i < f.size() - 4; ++i) {
    if (f[i] < '0' || f[i] > '9')
      return 0;
    n = n * 10 + static_cast<uint64_t>(f[i] - '0');
  }
  return n;
}

void encode_header(const segment_header& h, uint8_t out[header_bytes]) {
  std::memset(out, 0, header_bytes);
  std::memcpy(out, magic, 8);
  store_be64(out + 8, h.segment);
  store_be64(out + 16, h.first_index);
  std::memcpy(out + 24, h.prev_hash.data(), hash_bytes);
  store_be32(out + 60, crc32c(0, out, 60));
}

bool decode_header(const uint8_t in[header_bytes], segment_header& h) {
  if (std::memcmp(in, magic, 8) != 0 || load_be32(in + 60) != crc32c(0, in, 60))
    return false;
  h.segment = load_be64(in + 8);
  h.first_index = load_be64(in + 16);
  std::memcpy(h.prev_hash.data(), in + 24, hash_bytes);
  return true;
}

chain_hash chain(const chain_hash& prev, uint64_t index, const void* body, size_t n) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, hash_bytes);
  crypto_generichash_update(&st, prev.data(), prev.size());
  uint8_t idx[8];
  store_be64(idx, index);
  crypto_generichash_update(&st, idx, sizeof idx);
  crypto_generichash_update(&st, static_cast<const uint8_t*>(body), n);
  chain_hash out;
  crypto_generichash_final(&st, out.data(), out.size());
  return out;
}

void encode_record(std::string& out, const chain_hash& hash, const void* body, size_t n) {
  size_t start = out.size();
  out.resize(start + record_header_bytes);
  out.append(static_cast<const char*>(body), n);
  auto* p = reinterpret_cast<uint8_t*>(out.data() + start);
  store_be32(p, static_cast<uint32_t>(n));
  std::memcpy(p + 8, hash.data(), hash_bytes);
  store_be32(p + 4, crc32c(0, p + 8, hash_bytes + n));
}

}  // namespace castellan::actors::audit_format
