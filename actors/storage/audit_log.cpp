// Audit log storage engine; see audit_log.hpp and audit_format.hpp.
#include "actors/storage/audit_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "actors/storage/audit_reader.hpp"

namespace castellan::actors {
namespace fmt = audit_format;
namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw audit_error(what + ": " + std::strerror(errno));
}

void write_all(int fd, const void* data, size_t n, uint64_t offset, const std::string& path) {
  auto* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      fail("cannot write " + path);
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
}

void sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    fail("cannot open directory " + dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0)
    fail("cannot sync directory " + dir);
}

}  // namespace

std::unique_ptr<audit_log> audit_log::open(const audit_log_options& opts, audit_recovery& report) {
  std::unique_ptr<audit_log> log(new audit_log(opts));
  std::error_code ec;
  fs::create_directories(opts.dir, ec);
  if (ec)
    throw audit_error("cannot create audit directory " + opts.dir + ": " + ec.message());
  auto segments = list_segments(opts.dir);
  report.segments = segments.size();
  if (segments.empty()) {
    log->start_segment(1);
    report.next_index = 1;
    return log;
  }
  // Only the newest segment can hold a torn write: older ones were complete
  // (and synced) before the next one was created.
  auto& last = segments.back();
  auto scan = scan_segment(last, nullptr, {});
  bool header_bad = scan.problem && scan.problem->index == 0 && scan.problem->offset == 0;
  uint64_t number = fmt::segment_number(fs::path(last).filename().string());
  if (header_bad)
    throw audit_error(last + ": " + scan.problem->what + " (refusing to guess; move it aside)");
  log->segment_ = number;
  log->next_index_ = scan.next_index;
  log->durable_next_.store(scan.next_index);
  log->hash_ = scan.last_hash;
  log->offset_ = scan.end_offset;
  if (scan.problem && scan.valid_after_problem) {
    // Corruption, not a crash: keep the evidence, continue in a new segment.
    report.corrupt = scan.problem->segment_file + " offset " + std::to_string(scan.problem->offset) +
                     " record " + std::to_string(scan.problem->index) + ": " + scan.problem->what;
    log->start_segment(number + 1);
  } else {
    log->fd_ = ::open(last.c_str(), O_RDWR | O_CLOEXEC);
    if (log->fd_ < 0)
      fail("cannot open " + last);
    if (scan.garbage_bytes > 0) {
      std::string zeros(scan.garbage_bytes, '\0');
      write_all(log->fd_, zeros.data(), zeros.size(), scan.end_offset, last);
      if (::fdatasync(log->fd_) != 0)
        fail("cannot sync " + last);
      report.cut = scan.problem->segment_file + " offset " + std::to_string(scan.end_offset) + ": cut " +
                   std::to_string(scan.garbage_bytes) + " bytes of a torn write (" + scan.problem->what + ")";
    }
  }
  log->buffer_next_index_ = log->next_index_;
  log->buffer_hash_ = log->hash_;
  report.next_index = log->next_index_;
  return log;
}

audit_log::~audit_log() {
  if (fd_ >= 0)
    ::close(fd_);
}

void audit_log::start_segment(uint64_t number) {
  auto path = (fs::path(opts_.dir) / fmt::segment_file_name(number)).string();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    fail("cannot create " + path);
  if (opts_.preallocate && ::posix_fallocate(fd, 0, static_cast<off_t>(opts_.segment_bytes)) != 0) {
    ::close(fd);
    ::unlink(path.c_str());
    fail("cannot preallocate " + path);
  }
  uint8_t header[fmt::header_bytes];
  fmt::encode_header({number, next_index_, hash_}, header);
  try {
    write_all(fd, header, sizeof header, 0, path);
    if (::fsync(fd) != 0)
      fail("cannot sync " + path);
    sync_dir(opts_.dir);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = fd;
  segment_ = number;
  offset_ = fmt::header_bytes;
}

void audit_log::append(const void* body, size_t n) {
  if (n == 0 || n > fmt::max_record_body)
    throw audit_error("audit record of " + std::to_string(n) + " bytes is out of range");
  buffer_hash_ = fmt::chain(buffer_hash_, buffer_next_index_, body, n);
  fmt::encode_record(buffer_, buffer_hash_, body, n);
  ++buffer_next_index_;
  ++buffered_;
}

// The batch to the file and to the disk, or audit_error; drills fail it as
// the disk would (storage_faults.hpp).
void audit_log::write_batch(const std::string& path) {
  auto fault = opts_.faults ? opts_.faults->take() : storage_fault::none;
  dirty_bytes_ = std::max<uint64_t>(dirty_bytes_, buffer_.size());
  if (fault == storage_fault::write_fails) {
    errno = EIO;
    fail("cannot write " + path + " (injected)");
  }
  if (fault == storage_fault::disk_full) {
    write_all(fd_, buffer_.data(), buffer_.size() / 2, offset_, path);
    errno = ENOSPC;
    fail("cannot write " + path + " (injected)");
  }
  write_all(fd_, buffer_.data(), buffer_.size(), offset_, path);
  if (fault == storage_fault::sync_stalls) {
    opts_.faults->report("audit commit stalled before its fdatasync (injected): " + path +
                         " synced up to byte " + std::to_string(offset_));
    std::this_thread::sleep_for(opts_.faults->stall);  // the writer's own thread, a drill
  }
  if (fault == storage_fault::sync_fails) {
    errno = EIO;
    fail("cannot sync " + path + " (injected)");
  }
  if (::fdatasync(fd_) != 0)
    fail("cannot sync " + path);
}

// Best effort right after a failed commit: the records nobody was told about
// must not be found by the next open. repair() retries what fails here.
void audit_log::zero_dirty(const std::string& path) {
  try {
    std::string zeros(dirty_bytes_, '\0');
    write_all(fd_, zeros.data(), zeros.size(), offset_, path);
    dirty_bytes_ = 0;
  } catch (const audit_error&) {
  }
}

void audit_log::commit() {
  if (buffer_.empty())
    return;
  auto path = (fs::path(opts_.dir) / fmt::segment_file_name(segment_)).string();
  try {
    write_batch(path);
  } catch (const audit_error&) {
    // Forget the batch: the chain head stays at the last durable record.
    zero_dirty(path);
    buffer_.clear();
    buffered_ = 0;
    buffer_next_index_ = next_index_;
    buffer_hash_ = hash_;
    throw;
  }
  dirty_bytes_ = 0;
  offset_ += buffer_.size();
  bytes_written_ += buffer_.size();
  next_index_ = buffer_next_index_;
  durable_next_.store(next_index_, std::memory_order_release);
  hash_ = buffer_hash_;
  buffer_.clear();
  buffered_ = 0;
  rotate_if_full();
}

void audit_log::discard_buffer() {
  buffer_.clear();
  buffered_ = 0;
  buffer_next_index_ = next_index_;
  buffer_hash_ = hash_;
}

void audit_log::repair() {
  auto path = (fs::path(opts_.dir) / fmt::segment_file_name(segment_)).string();
  if (dirty_bytes_ > 0) {
    std::string zeros(dirty_bytes_, '\0');
    write_all(fd_, zeros.data(), zeros.size(), offset_, path);
  }
  if (::fdatasync(fd_) != 0)
    fail("cannot sync " + path);
  // A directory we can no longer add files to would fail the next rotation.
  auto probe = (fs::path(opts_.dir) / ".write-probe").string();
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    fail("audit directory " + opts_.dir + " is not writable");
  ::close(fd);
  ::unlink(probe.c_str());
  dirty_bytes_ = 0;
}

void audit_log::rotate_if_full() {
  if (offset_ < opts_.segment_bytes)
    return;
  start_segment(segment_ + 1);
  apply_retention();
}

void audit_log::apply_retention() {
  auto all = list_segments(opts_.dir);
  auto segments = all;
  segments.pop_back();  // never the current one
  size_t excess = opts_.retain_segments && segments.size() + 1 > opts_.retain_segments
                      ? segments.size() + 1 - opts_.retain_segments
                      : 0;
  auto cutoff = fs::file_time_type::clock::now() - std::chrono::hours(24) * opts_.retain_days;
  uint64_t floor = retention_floor_.load();
  for (size_t i = 0; i < segments.size(); ++i) {
    std::error_code ec;
    bool too_old = opts_.retain_days && fs::last_write_time(segments[i], ec) < cutoff && !ec;
    if (!(i < excess || too_old))
      continue;
    // Recovery needs every record from the floor on: a segment may go only
    // if the next one starts at or before the floor.
    auto next_first = segment_first_index(all[i + 1]);
    if (floor && (!next_first || *next_first > floor))
      break;  // later segments hold even newer records
    fs::remove(segments[i], ec);
  }
}

}  // namespace castellan::actors
