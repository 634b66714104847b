// libFuzzer target: what a client sends. The bytes are a stream of frames
// as the connection reads them: each frame found is parsed as a request, and
// whatever the outcome the parser must neither crash nor read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <msgpack.hpp>

#include "net/frame_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  msgpack::zone zone;
  for (;;) {
    auto frame = castellan::net::scan_frame(stream, 65536);
    if (frame.status != castellan::net::frame_status::complete)
      return 0;
    castellan::net::parse_request(frame.body, zone);
    stream.remove_prefix(frame.frame_bytes);
  }
}
