// Atomic file replacement; see atomic_file.hpp.
#include "config/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace castellan::config {

void write_file_atomically(const std::string& path, const std::string& contents, mode_t mode) {
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty())
    std::filesystem::create_directories(dir);
  auto tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    throw std::runtime_error(tmp + ": cannot create: " + std::strerror(errno));
  bool ok = ::fchmod(fd, mode) == 0 &&
            ::write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size()) &&
            ::fsync(fd) == 0;
  int error = errno;
  ::close(fd);
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    error = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    throw std::runtime_error(path + ": cannot write: " + std::strerror(error));
  }
}

}  // namespace castellan::config
