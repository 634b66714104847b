// Session snapshots on disk; see session_snapshot.hpp for the layout.
// Writing streams the image through a 1 MiB buffer (CRC32C per chunk), so a
// snapshot never needs a second copy of itself in memory. Reading checks the
// header (it has its own CRC) and the file size first, then reads the whole
// file with one read, verifies the trailing CRC, and only then decodes; every
// decode step is still bounds-checked, so a file that passes the CRC but was
// crafted or written by a buggy writer gets a reason, not a crash.
#include "actors/storage/session_snapshot.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <utility>

#include "actors/storage/crc32c.hpp"
#include "net/byte_order.hpp"

namespace castellan::actors {
namespace fs = std::filesystem;
namespace fmt = snapshot_format;

namespace {

// ---- little-endian integers -------------------------------------------------
// Written with shifts (net/byte_order.hpp) so the format does not depend on the host.

using net::load_le16;
using net::load_le32;
using net::load_le64;
using net::store_le16;
using net::store_le32;
using net::store_le64;

// ---- the header -------------------------------------------------------------

struct header {
  uint64_t log_position = 0;
  int64_t taken_ms = 0;
  uint32_t users = 0;
  uint32_t users_bytes = 0;
  uint32_t sessions = 0;
  uint32_t lockouts = 0;
  uint32_t lockouts_bytes = 0;
  uint32_t tombstones = 0;

  // Offsets of the sections and the whole file size they imply. All fields
  // are u32, so the sum cannot overflow a u64.
  uint64_t users_at() const { return fmt::header_bytes; }
  uint64_t sessions_at() const { return users_at() + users_bytes; }
  uint64_t lockouts_at() const { return sessions_at() + uint64_t{sessions} * fmt::session_bytes; }
  uint64_t tombstones_at() const { return lockouts_at() + lockouts_bytes; }
  uint64_t trailer_at() const { return tombstones_at() + uint64_t{tombstones} * fmt::tombstone_bytes; }
  uint64_t file_bytes() const { return trailer_at() + fmt::trailer_bytes; }
};

void encode_header(const header& h, uint8_t out[fmt::header_bytes]) {
  std::memset(out, 0, fmt::header_bytes);
  std::memcpy(out, fmt::magic, sizeof fmt::magic);
  store_le32(out + 8, fmt::version);
  store_le64(out + 16, h.log_position);
  store_le64(out + 24, static_cast<uint64_t>(h.taken_ms));
  store_le32(out + 32, h.users);
  store_le32(out + 36, h.users_bytes);
  store_le32(out + 40, h.sessions);
  store_le32(out + 44, h.lockouts);
  store_le32(out + 48, h.lockouts_bytes);
  store_le32(out + 52, h.tombstones);
  store_le32(out + fmt::header_crc_offset, crc32c(0, out, fmt::header_crc_offset));
}

// Empty if the header is sound, else why not.
std::string decode_header(const uint8_t in[fmt::header_bytes], header& h) {
  if (std::memcmp(in, fmt::magic, sizeof fmt::magic) != 0)
    return "bad magic";
  if (uint32_t v = load_le32(in + 8); v < fmt::oldest_readable_version || v > fmt::version)
    return "unsupported format version " + std::to_string(v) + " (this build reads " +
           std::to_string(fmt::oldest_readable_version) + " to " + std::to_string(fmt::version) + ")";
  if (load_le32(in + fmt::header_crc_offset) != crc32c(0, in, fmt::header_crc_offset))
    return "header checksum mismatch";
  h.log_position = load_le64(in + 16);
  h.taken_ms = static_cast<int64_t>(load_le64(in + 24));
  h.users = load_le32(in + 32);
  h.users_bytes = load_le32(in + 36);
  h.sessions = load_le32(in + 40);
  h.lockouts = load_le32(in + 44);
  h.lockouts_bytes = load_le32(in + 48);
  h.tombstones = load_le32(in + 52);  // reserved, zero, in version 1
  return {};
}

// ---- the directory ----------------------------------------------------------

bool is_temp_name(const std::string& name) {
  return name.rfind("snapshot-", 0) == 0 && name.size() > 4 &&
         name.compare(name.size() - 4, 4, ".tmp") == 0;
}

struct listing {
  std::vector<std::pair<uint64_t, fs::path>> snapshots;  // ascending by position
  std::vector<fs::path> temps;
};

// A missing directory lists as empty; any other failure throws.
listing list_dir(const std::string& dir) {
  listing out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec == std::errc::no_such_file_or_directory)
    return out;
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    auto name = it->path().filename().string();
    if (auto pos = fmt::position_of(name))
      out.snapshots.emplace_back(*pos, it->path());
    else if (is_temp_name(name))
      out.temps.push_back(it->path());
  }
  if (ec)
    throw std::runtime_error(dir + ": cannot list snapshot directory: " + ec.message());
  std::sort(out.snapshots.begin(), out.snapshots.end());
  return out;
}

[[noreturn]] void fail(const std::string& path, const std::string& what, int error) {
  throw std::runtime_error(path + ": " + what + ": " + std::strerror(error));
}

void sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    fail(dir, "cannot open directory", errno);
  int rc = ::fsync(fd);
  int error = errno;
  ::close(fd);
  if (rc != 0)
    fail(dir, "cannot sync directory", error);
}

// ---- writing ----------------------------------------------------------------

// Checks that `image` can be written and read back, and sizes its sections.
header plan(const snapshot_image& image) {
  constexpr uint64_t u32_max = std::numeric_limits<uint32_t>::max();
  auto reject = [](const std::string& why) { throw std::invalid_argument("snapshot image: " + why); };
  if (image.users.size() > u32_max || image.sessions.size() > u32_max ||
      image.lockouts.size() > u32_max || image.tombstones.size() > u32_max)
    reject("more than 2^32 - 1 users, sessions, lockouts or tombstones");
  uint64_t users_bytes = 0;
  for (const auto& u : image.users) {
    if (u.size() > fmt::max_string)
      reject("user name longer than 65535 bytes");
    users_bytes += 2 + u.size();
  }
  const size_t n_users = image.users.size();
  for (size_t i = 0; i < image.sessions.size(); ++i)
    if (image.sessions[i].user >= n_users)
      reject("session " + std::to_string(i) + ": user index " +
             std::to_string(image.sessions[i].user) + " out of range (" + std::to_string(n_users) +
             " users)");
  uint64_t lockouts_bytes = 0;
  for (const auto& l : image.lockouts) {
    if (l.kind > 2)
      reject("lockout kind " + std::to_string(l.kind) + " is not 0, 1 or 2");
    if (l.user.size() > fmt::max_string || l.ip.size() > fmt::max_string)
      reject("lockout user or ip longer than 65535 bytes");
    lockouts_bytes += fmt::lockout_fixed_bytes + l.user.size() + l.ip.size();
  }
  if (users_bytes > u32_max || lockouts_bytes > u32_max)
    reject("users or lockouts section larger than 4 GiB");
  header h;
  h.log_position = image.log_position;
  h.taken_ms = image.taken_ms;
  h.users = static_cast<uint32_t>(n_users);
  h.users_bytes = static_cast<uint32_t>(users_bytes);
  h.sessions = static_cast<uint32_t>(image.sessions.size());
  h.lockouts = static_cast<uint32_t>(image.lockouts.size());
  h.lockouts_bytes = static_cast<uint32_t>(lockouts_bytes);
  h.tombstones = static_cast<uint32_t>(image.tombstones.size());
  return h;
}

// Appends to a file through a 1 MiB buffer, keeping the running CRC32C of
// everything written (computed per chunk: long runs are what the CRC
// instruction is fast at).
class chunk_writer {
 public:
  chunk_writer(int fd, const std::string& path) : fd_(fd), path_(path), buf_(1 << 20) {}

  void put(const void* data, size_t n) {
    auto* p = static_cast<const uint8_t*>(data);
    while (n > 0) {
      size_t k = std::min(n, buf_.size() - used_);
      std::memcpy(buf_.data() + used_, p, k);
      used_ += k;
      p += k;
      n -= k;
      if (used_ == buf_.size())
        flush();
    }
  }
  void put_u16(uint16_t v) {
    uint8_t b[2];
    store_le16(b, v);
    put(b, 2);
  }
  void put_string(const std::string& s) {
    put_u16(static_cast<uint16_t>(s.size()));
    put(s.data(), s.size());
  }
  // Appends the CRC of everything so far (not itself covered) and writes out.
  void finish() {
    crc_ = crc32c(crc_, buf_.data(), used_);
    uint8_t trailer[fmt::trailer_bytes];
    store_le32(trailer, crc_);
    if (buf_.size() - used_ < sizeof trailer)
      write_out();
    std::memcpy(buf_.data() + used_, trailer, sizeof trailer);
    used_ += sizeof trailer;
    write_out();
  }
  uint64_t written() const { return written_; }

 private:
  void flush() {
    crc_ = crc32c(crc_, buf_.data(), used_);
    write_out();
  }
  void write_out() {
    const uint8_t* p = buf_.data();
    size_t n = used_;
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        fail(path_, "cannot write", w < 0 ? errno : EIO);
      p += w;
      n -= static_cast<size_t>(w);
    }
    written_ += used_;
    used_ = 0;
  }

  int fd_;
  const std::string& path_;
  std::vector<uint8_t> buf_;
  size_t used_ = 0;
  uint32_t crc_ = 0;
  uint64_t written_ = 0;
};

void encode_body(chunk_writer& out, const snapshot_image& image) {
  for (const auto& u : image.users)
    out.put_string(u);
  for (const auto& s : image.sessions) {
    uint8_t rec[fmt::session_bytes];
    std::memcpy(rec, s.key.data(), s.key.size());
    store_le32(rec + 16, s.user);
    store_le64(rec + 20, static_cast<uint64_t>(s.created_ms));
    store_le64(rec + 28, static_cast<uint64_t>(s.expires_ms));
    out.put(rec, sizeof rec);
  }
  for (const auto& l : image.lockouts) {
    uint8_t fixed[13];
    fixed[0] = l.kind;
    store_le32(fixed + 1, l.level);
    store_le64(fixed + 5, static_cast<uint64_t>(l.until_ms));
    out.put(fixed, sizeof fixed);
    out.put_string(l.user);
    out.put_string(l.ip);
  }
  for (const auto& t : image.tombstones) {
    uint8_t rec[fmt::tombstone_bytes];
    std::memcpy(rec, t.key.data(), t.key.size());
    store_le64(rec + 16, static_cast<uint64_t>(t.until_ms));
    out.put(rec, sizeof rec);
  }
}

// Writes the whole file at `tmp` and makes its data durable; unlinks it on failure.
uint64_t write_temp(const std::string& tmp, const header& h, const snapshot_image& image) {
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    fail(tmp, "cannot create", errno);
  try {
    chunk_writer out(fd, tmp);
    uint8_t head[fmt::header_bytes];
    encode_header(h, head);
    out.put(head, sizeof head);
    encode_body(out, image);
    out.finish();
    if (::fdatasync(fd) != 0)
      fail(tmp, "cannot sync", errno);
    if (::close(fd) != 0) {
      fd = -1;
      fail(tmp, "cannot close", errno);
    }
    return out.written();
  } catch (...) {
    if (fd >= 0)
      ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
}

// Keeps the newest `keep` snapshots and `just_written`; removes the rest and temp files.
void prune(const std::string& dir, size_t keep, uint64_t just_written) {
  auto found = list_dir(dir);
  const size_t n = found.snapshots.size();
  for (size_t i = 0; i + keep < n; ++i) {
    const auto& [pos, path] = found.snapshots[i];
    if (pos != just_written && ::unlink(path.c_str()) != 0 && errno != ENOENT)
      fail(path.string(), "cannot remove old snapshot", errno);
  }
  for (const auto& path : found.temps)
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      fail(path.string(), "cannot remove leftover temp file", errno);
}

// ---- reading ----------------------------------------------------------------

// Bounds-checked reading of the decoded sections. Every take() checks the
// bytes are there, so no count or length can send a read past `end`.
class cursor {
 public:
  cursor(const uint8_t* base, uint64_t pos, uint64_t end) : base_(base), pos_(pos), end_(end) {}
  bool take(uint64_t n, const uint8_t*& out) {
    if (end_ - pos_ < n)
      return false;
    out = base_ + pos_;
    pos_ += n;
    return true;
  }
  bool take_string(std::string& s) {
    const uint8_t* p;
    if (!take(2, p))
      return false;
    uint16_t n = load_le16(p);
    if (!take(n, p))
      return false;
    s.assign(reinterpret_cast<const char*>(p), n);
    return true;
  }
  uint64_t pos() const { return pos_; }
  uint64_t end() const { return end_; }

 private:
  const uint8_t* base_;
  uint64_t pos_;
  uint64_t end_;
};

std::string past_end(const char* section, const char* what, uint64_t i, const cursor& c) {
  return std::string(section) + " section: " + what + " " + std::to_string(i) +
         " runs past the section's end at byte " + std::to_string(c.end());
}

std::string section_left_over(const char* section, const cursor& c) {
  return std::string(section) + " section: " + std::to_string(c.end() - c.pos()) +
         " bytes left over after its last entry, at byte " + std::to_string(c.pos());
}

std::string decode_users(const uint8_t* file, const header& h, snapshot_image& img) {
  cursor c(file, h.users_at(), h.sessions_at());
  if (h.users > h.users_bytes / 2)  // every name takes at least its length field
    return "users section: " + std::to_string(h.users) + " names cannot fit in " +
           std::to_string(h.users_bytes) + " bytes";
  img.users.resize(h.users);
  for (uint32_t i = 0; i < h.users; ++i)
    if (!c.take_string(img.users[i]))
      return past_end("users", "name", i, c);
  return c.pos() == c.end() ? std::string() : section_left_over("users", c);
}

// The hot loop of a load: the section's size was checked against the header
// (sessions x 36 bytes), so only the user index needs checking per record.
std::string decode_sessions(const uint8_t* file, const header& h, snapshot_image& img) {
  img.sessions.resize(h.sessions);
  const uint8_t* p = file + h.sessions_at();
  const size_t n_users = img.users.size();
  for (uint32_t i = 0; i < h.sessions; ++i, p += fmt::session_bytes) {
    auto& s = img.sessions[i];
    std::memcpy(s.key.data(), p, s.key.size());
    s.user = load_le32(p + 16);
    s.created_ms = static_cast<int64_t>(load_le64(p + 20));
    s.expires_ms = static_cast<int64_t>(load_le64(p + 28));
    if (s.user >= n_users)
      return "session " + std::to_string(i) + ": user index " + std::to_string(s.user) +
             " out of range (" + std::to_string(n_users) + " users)";
  }
  return {};
}

std::string decode_lockouts(const uint8_t* file, const header& h, snapshot_image& img) {
  cursor c(file, h.lockouts_at(), h.tombstones_at());
  if (h.lockouts > h.lockouts_bytes / fmt::lockout_fixed_bytes)
    return "lockouts section: " + std::to_string(h.lockouts) + " lockouts cannot fit in " +
           std::to_string(h.lockouts_bytes) + " bytes";
  img.lockouts.resize(h.lockouts);
  for (uint32_t i = 0; i < h.lockouts; ++i) {
    auto& l = img.lockouts[i];
    const uint8_t* p;
    if (!c.take(13, p))
      return past_end("lockouts", "lockout", i, c);
    l.kind = p[0];
    l.level = load_le32(p + 1);
    l.until_ms = static_cast<int64_t>(load_le64(p + 5));
    if (l.kind > 2)
      return "lockout " + std::to_string(i) + ": unknown kind " + std::to_string(l.kind);
    if (!c.take_string(l.user) || !c.take_string(l.ip))
      return past_end("lockouts", "lockout", i, c);
  }
  return c.pos() == c.end() ? std::string() : section_left_over("lockouts", c);
}

// Fixed-size records, sized against the file with the other sections.
std::string decode_tombstones(const uint8_t* file, const header& h, snapshot_image& img) {
  img.tombstones.resize(h.tombstones);
  const uint8_t* p = file + h.tombstones_at();
  for (auto& t : img.tombstones) {
    std::memcpy(t.key.data(), p, t.key.size());
    t.until_ms = static_cast<int64_t>(load_le64(p + 16));
    p += fmt::tombstone_bytes;
  }
  return {};
}

// Reads exactly `n` bytes at `offset`; false (errno set, 0 for end of file) if not.
bool read_exactly(int fd, uint8_t* p, uint64_t n, uint64_t offset) {
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      if (r == 0)
        errno = 0;
      return false;
    }
    p += r;
    n -= static_cast<uint64_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

std::string io_why(const char* what, int error) {
  return error == 0 ? std::string("file shrank while being read")
                    : std::string(what) + ": " + std::strerror(error);
}

struct owned_fd {
  int fd;
  ~owned_fd() {
    if (fd >= 0)
      ::close(fd);
  }
};

// Loads one file completely; empty `why` if it verified.
std::string load_file(const std::string& path, uint64_t name_position, snapshot_image& img) {
  owned_fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0)
    return io_why("cannot open", errno);
  struct stat st;
  if (::fstat(f.fd, &st) != 0)
    return io_why("cannot stat", errno);
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size < fmt::header_bytes + fmt::trailer_bytes)
    return "truncated at byte " + std::to_string(size) + ": a snapshot has at least " +
           std::to_string(fmt::header_bytes + fmt::trailer_bytes) + " bytes";

  // The header first, on its own CRC: its counts give the file's size, so a
  // truncated or padded file is named as such, and nothing is allocated on
  // the word of a header that does not verify.
  uint8_t head[fmt::header_bytes];
  if (!read_exactly(f.fd, head, sizeof head, 0))
    return io_why("cannot read", errno);
  header h;
  if (auto why = decode_header(head, h); !why.empty())
    return why;
  if (size < h.file_bytes())
    return "truncated at byte " + std::to_string(size) + " (the header says " +
           std::to_string(h.file_bytes()) + " bytes)";
  if (size > h.file_bytes())
    return std::to_string(size - h.file_bytes()) + " unexpected bytes after the end at byte " +
           std::to_string(h.file_bytes());
  if (h.log_position != name_position)
    return "the name says log position " + std::to_string(name_position) + ", the header says " +
           std::to_string(h.log_position);

  // One read of the whole file, then the CRC over all of it before decoding.
  std::unique_ptr<uint8_t[]> file;
  try {
    file.reset(new uint8_t[size]);  // not zero-filled: the read overwrites it all
  } catch (const std::bad_alloc&) {
    return "cannot allocate " + std::to_string(size) + " bytes to read it";
  }
  if (!read_exactly(f.fd, file.get(), size, 0))
    return io_why("cannot read", errno);
  const uint64_t body = size - fmt::trailer_bytes;
  uint32_t stored = load_le32(file.get() + body);
  uint32_t computed = crc32c(0, file.get(), body);
  if (stored != computed) {
    char why[80];
    std::snprintf(why, sizeof why, "checksum mismatch (stored %08x, computed %08x)", stored,
                  computed);
    return why;
  }

  img.log_position = h.log_position;
  img.taken_ms = h.taken_ms;
  for (auto* decode : {decode_users, decode_sessions, decode_lockouts, decode_tombstones})
    if (auto why = decode(file.get(), h, img); !why.empty())
      return why;
  return {};
}

}  // namespace

// ---- the interface ----------------------------------------------------------

namespace snapshot_format {

std::string file_name(uint64_t log_position) {
  char name[48];
  std::snprintf(name, sizeof name, "snapshot-%020llu.snap",
                static_cast<unsigned long long>(log_position));
  return name;
}

std::optional<uint64_t> position_of(const std::string& f) {
  constexpr size_t prefix = 9, digits = 20, suffix = 5;  // "snapshot-", 20 digits, ".snap"
  if (f.size() != prefix + digits + suffix || f.rfind("snapshot-", 0) != 0 ||
      f.compare(prefix + digits, suffix, ".snap") != 0)
    return std::nullopt;
  uint64_t n = 0;
  for (size_t i = prefix; i < prefix + digits; ++i) {
    if (f[i] < '0' || f[i] > '9')
      return std::nullopt;
    auto d = static_cast<uint64_t>(f[i] - '0');
    if (n > (std::numeric_limits<uint64_t>::max() - d) / 10)
      return std::nullopt;
    n = n * 10 + d;
  }
  return n;
}

}  // namespace snapshot_format

uint64_t write_snapshot(const std::string& dir, const snapshot_image& image, size_t keep) {
  const header h = plan(image);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw std::runtime_error(dir + ": cannot create snapshot directory: " + ec.message());
  const auto path = (fs::path(dir) / fmt::file_name(image.log_position)).string();
  const auto tmp = path + ".tmp";
  uint64_t bytes = write_temp(tmp, h, image);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int error = errno;
    ::unlink(tmp.c_str());
    fail(path, "cannot rename " + tmp + " to it", error);
  }
  sync_dir(dir);
  prune(dir, std::max<size_t>(keep, 1), image.log_position);
  return bytes;
}

snapshot_load load_latest_snapshot(const std::string& dir) {
  snapshot_load out;
  auto found = list_dir(dir);
  for (auto it = found.snapshots.rbegin(); it != found.snapshots.rend(); ++it) {
    auto path = it->second.string();
    snapshot_image img;
    if (auto why = load_file(path, it->first, img); !why.empty()) {
      out.damaged.push_back({path, std::move(why)});
      continue;
    }
    out.image = std::move(img);
    out.file = std::move(path);
    break;
  }
  return out;
}

std::vector<uint64_t> snapshot_positions(const std::string& dir) {
  std::vector<uint64_t> out;
  for (const auto& [pos, path] : list_dir(dir).snapshots)
    out.push_back(pos);
  return out;
}

}  // namespace castellan::actors
