// Replacing a file so that a crash leaves either the old or the new
// contents, never half of one: write a temp file beside it, fsync, rename.
// Used for the users file and the key file, which hold secrets (mode 0600).
#pragma once

#include <string>
#include <sys/types.h>

namespace castellan::config {

// Writes `contents` to `path` atomically with permission bits `mode`,
// creating parent directories. Throws std::runtime_error naming the path.
void write_file_atomically(const std::string& path, const std::string& contents, mode_t mode);

}  // namespace castellan::config
