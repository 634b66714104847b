// A file's mtime and size: what the directory actors and the front door poll
// to notice that an operator changed a users, key or certificate file.
// Polling every second or two is cheap and works on every filesystem, unlike
// inotify on network mounts, which is where such files are often provisioned.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>

namespace castellan::config {

struct file_stamp {
  int64_t mtime_ns = -1;
  int64_t size = -1;
  bool operator==(const file_stamp&) const = default;
};

inline file_stamp stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return {};
  return {int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec, int64_t{st.st_size}};
}

}  // namespace castellan::config
