// The storage layer's fault seam (testing.fault_injection): commits a drill
// asks to fail, the way a failing disk fails them. Each call arms one more
// commit; the audit log consumes one per commit. Off
// in production: the log holds no faults object at all. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace castellan::actors {

enum class storage_fault : uint8_t {
  none,
  write_fails,  // the write fails before any byte reaches the file (EIO)
  sync_fails,   // the batch is written, then fdatasync fails: it sits in the page cache
  disk_full,    // part of the batch is written, then ENOSPC
  sync_stalls,  // the batch is written, then fdatasync takes `stall` (a power-loss drill:
                // nothing in it may be answered before the sync ends)
};

class storage_faults {
 public:
  // How long a stalled sync takes, and where the log says where it stalled
  // (set once, before the log is opened).
  std::chrono::milliseconds stall{5000};
  std::function<void(const std::string&)> report = [](const std::string&) {};

  // `count` more commits fail, all with `fault` (the last one armed).
  void arm(storage_fault fault, uint32_t count = 1) {
    fault_.store(fault, std::memory_order_relaxed);
    remaining_.fetch_add(count, std::memory_order_acq_rel);
  }
  // What the commit starting now must do (`none` once the armed ones are used).
  storage_fault take() {
    uint32_t n = remaining_.load(std::memory_order_acquire);
    while (n > 0 && !remaining_.compare_exchange_weak(n, n - 1, std::memory_order_acq_rel)) {
    }
    return n > 0 ? fault_.load(std::memory_order_relaxed) : storage_fault::none;
  }

 private:
  std::atomic<storage_fault> fault_{storage_fault::none};
  std::atomic<uint32_t> remaining_{0};
};

}  // namespace castellan::actors
