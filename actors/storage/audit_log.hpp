// The audit log writer's storage engine, without actors: append records to a
// buffer, then commit() writes them in one pwrite and makes them durable with
// one fdatasync (group commit). Segments are preallocated (fallocate), which
// made syncs about a quarter faster here. On open, a torn tail left by a
// crash is cut; a damaged record followed by good ones is corruption, which
// is never cut: the damaged segment is left for `verify` and a new one starts.
#pragma once

#include <cstdint>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "actors/storage/audit_format.hpp"
#include "actors/storage/storage_faults.hpp"

namespace castellan::actors {

struct audit_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct audit_log_options {
  std::string dir;
  uint64_t segment_bytes = 64 << 20;  // rotate after this many bytes
  uint32_t retain_segments = 0;       // keep at most this many (0: no limit)
  uint32_t retain_days = 0;           // delete segments older than this (0: no limit)
  bool preallocate = true;
  std::shared_ptr<storage_faults> faults;  // drills only (testing.fault_injection); null otherwise
};

// What open() found and did; the caller logs it.
struct audit_recovery {
  uint64_t segments = 0;
  uint64_t next_index = 1;
  std::string cut;        // non-empty: a torn tail was cut (where, how many bytes)
  std::string corrupt;    // non-empty: a damaged segment was sealed and a new one started
};

class audit_log {
 public:
  // Opens (or creates) the log in opts.dir. Throws audit_error.
  static std::unique_ptr<audit_log> open(const audit_log_options& opts, audit_recovery& report);
  ~audit_log();

  // Buffers one record (body = one msgpack value). Cheap: no I/O.
  void append(const void* body, size_t n);
  size_t buffered_records() const { return buffered_; }

  // Writes and syncs what is buffered. On failure throws audit_error and
  // forgets the buffered records (their callers are told `unavailable`);
  // whatever the failed write left in the file is zeroed at once, before
  // anyone is told, so a crash of the process cannot bring those records
  // back (only a power loss during the disk fault could: the zeros are not
  // synced either). The next commit retries cleanly.
  void commit();

  // Forgets buffered records that were never committed (their writer died).
  void discard_buffer();

  // After a failed commit: clears what the failed write may have left and
  // checks the directory is writable again. Throws audit_error if not.
  void repair();

  uint64_t next_index() const { return next_index_; }
  // The same, readable from any thread (the snapshotter): every record below
  // it is durable.
  uint64_t durable_next_index() const { return durable_next_.load(std::memory_order_acquire); }

  // Retention never deletes a segment holding a record at or after `index`:
  // recovery still needs it (the oldest snapshot kept starts there). Any
  // thread. 0: no floor (no snapshots: retention as configured).
  void set_retention_floor(uint64_t index) { retention_floor_.store(index); }
  uint64_t bytes_written() const { return bytes_written_; }
  const std::string& dir() const { return opts_.dir; }

 private:
  explicit audit_log(audit_log_options opts) : opts_(std::move(opts)) {}
  void start_segment(uint64_t number);
  void rotate_if_full();
  void write_batch(const std::string& path);
  void zero_dirty(const std::string& path);
  void apply_retention();

  audit_log_options opts_;
  int fd_ = -1;
  uint64_t segment_ = 0;
  uint64_t offset_ = 0;            // committed end of the current segment
  uint64_t next_index_ = 1;        // committed
  audit_format::chain_hash hash_{};  // committed chain head
  // Buffered, not yet committed:
  std::string buffer_;
  size_t buffered_ = 0;
  uint64_t buffer_next_index_ = 1;
  audit_format::chain_hash buffer_hash_{};
  uint64_t dirty_bytes_ = 0;       // extent a failed write may have touched
  uint64_t bytes_written_ = 0;
  std::atomic<uint64_t> durable_next_{1};
  std::atomic<uint64_t> retention_floor_{0};
};

}  // namespace castellan::actors
