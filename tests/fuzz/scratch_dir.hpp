// A directory of the fuzz process's own for targets whose decoder reads
// files (snapshots, audit segments): in /dev/shm when there is one, so a
// run of millions of inputs does not wear a disk.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace castellan::fuzz {

// Made on first use, `castellan-fuzz-<what>-XXXXXX`.
inline const std::filesystem::path& scratch_dir(const char* what) {
  static const std::filesystem::path dir = [what] {
    std::string pattern = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    pattern += std::string("/castellan-fuzz-") + what + "-XXXXXX";
    if (!::mkdtemp(pattern.data()))
      std::abort();
    return std::filesystem::path(pattern);
  }();
  return dir;
}

}  // namespace castellan::fuzz
