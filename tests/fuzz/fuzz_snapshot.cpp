// libFuzzer target: snapshot files, which recovery trusts only once they
// verify. The input is written as a snapshot file and loaded the way a
// starting node loads it. Both checksums are fixed up first (header and
// whole file) and the file is named after the position its header claims,
// so the fuzzer reaches the decoding behind the checks instead of only the
// checks: a damaged file must be refused with a reason, never crash or
// allocate what its counts claim.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "actors/storage/crc32c.hpp"
#include "actors/storage/session_snapshot.hpp"
#include "net/byte_order.hpp"
#include "tests/fuzz/scratch_dir.hpp"

namespace {

namespace fmt = castellan::actors::snapshot_format;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using castellan::actors::crc32c;
  using castellan::net::load_le64;
  using castellan::net::store_le32;
  std::string file(reinterpret_cast<const char*>(data), size);
  auto* bytes = reinterpret_cast<uint8_t*>(file.data());
  uint64_t position = 42;
  if (size >= fmt::header_bytes + fmt::trailer_bytes) {
    store_le32(bytes + fmt::header_crc_offset, crc32c(0, bytes, fmt::header_crc_offset));
    store_le32(bytes + size - fmt::trailer_bytes, crc32c(0, bytes, size - fmt::trailer_bytes));
    position = load_le64(bytes + 16);
  }
  auto path = castellan::fuzz::scratch_dir("snapshot") / fmt::file_name(position);
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(file.data(), file.size());
  castellan::actors::load_latest_snapshot(castellan::fuzz::scratch_dir("snapshot").string());
  std::filesystem::remove(path);
  return 0;
}
