// libFuzzer target: audit log records, as `authctl audit verify|tail` and
// recovery read them. The input is a list of record bodies, each prefixed
// by its length (u16, big-endian); the harness writes them as a well-formed
// segment (header, CRCs and hash chain right), so the fuzzer reaches what
// lies behind the checks: the reader's walk and the decoding of each body
// into an auth_event, bounded as every decoder of outside bytes is
// (net/bounded_unpack.hpp). Nothing may crash or allocate what a body claims.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "actors/storage/audit_format.hpp"
#include "actors/storage/audit_reader.hpp"
#include "net/bounded_unpack.hpp"
#include "net/events.hpp"
#include "tests/fuzz/scratch_dir.hpp"

namespace {

namespace fmt = castellan::actors::audit_format;

// One segment holding the input's bodies as records 1, 2, ...
std::string segment_of(std::string_view input) {
  uint8_t header[fmt::header_bytes];
  fmt::encode_header({1, 1, {}}, header);
  std::string out(reinterpret_cast<const char*>(header), sizeof header);
  fmt::chain_hash hash{};
  for (uint64_t index = 1; input.size() >= 2; ++index) {
    size_t n = (static_cast<uint8_t>(input[0]) << 8) | static_cast<uint8_t>(input[1]);
    input.remove_prefix(2);
    n = std::min(n, input.size());
    if (n == 0)
      break;  // a zero length ends a segment's records
    auto body = input.substr(0, n);
    input.remove_prefix(n);
    hash = fmt::chain(hash, index, body.data(), body.size());
    fmt::encode_record(out, hash, body.data(), body.size());
  }
  out.append(fmt::record_header_bytes, '\0');  // the preallocated zeros
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto path = castellan::fuzz::scratch_dir("audit") / fmt::segment_file_name(1);
  auto segment = segment_of(std::string_view(reinterpret_cast<const char*>(data), size));
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(segment.data(), segment.size());
  castellan::actors::verify_log(
      castellan::fuzz::scratch_dir("audit").string(), [](uint64_t, std::string_view body, const std::string&, uint64_t) {
        try {
          castellan::net::auth_event e;
          castellan::net::unpack_bounded(body.data(), body.size()).get().convert(e);
        } catch (const std::exception&) {
          // Undecodable bodies are counted and skipped by recovery.
        }
      });
  std::filesystem::remove(path);
  return 0;
}
