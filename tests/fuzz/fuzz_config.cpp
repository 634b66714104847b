// libFuzzer target: configuration and users files. Any text must parse or
// be refused with config_error naming the problem, never crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/config.hpp"
#include "config/users_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    castellan::config::parse(text, "fuzz.toml");
  } catch (const castellan::config::config_error&) {
  }
  try {
    castellan::config::parse_users(text, "users.toml");
  } catch (const castellan::config::config_error&) {
  }
  return 0;
}
