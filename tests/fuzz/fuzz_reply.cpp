// libFuzzer target: what a node sends to a client. The client library's
// reply decoder must turn any bytes into a reply or an exception, never a
// crash: a client is only as robust as this.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string_view>

#include "net/frame_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    castellan::net::parse_reply(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const std::exception&) {
    // Documented: a body that is not a reply map throws.
  }
  return 0;
}
