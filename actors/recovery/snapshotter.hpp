// The snapshotter: a dedicated low-priority thread (never CAF's) that writes
// the session projection as a snapshot every `every_records` records or
// `interval_s` seconds. It does not ask the shards for anything: it folds
// the durable log itself (the previous snapshot plus the records since),
// exactly as recovery will, so validate is never paused and a snapshot
// cannot disagree with a replay. After each snapshot it raises the audit
// log's retention floor to the oldest snapshot kept.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "actors/recovery/snapshot_metrics.hpp"

namespace castellan::actors {

class audit_log;


class snapshotter {
 public:
  // `covered`: the log position of the newest snapshot on disk (1: none).
  snapshotter(config::snapshots_config cfg, std::string snapshot_dir, std::string audit_dir,
              std::shared_ptr<audit_log> log, uint64_t covered,
              actors::snapshot_metrics* metrics = nullptr);
  ~snapshotter();
  snapshotter(const snapshotter&) = delete;
  snapshotter& operator=(const snapshotter&) = delete;

  // Writes one snapshot now (tests, and the thread itself). Returns false
  // (and logs why) if it could not; nothing else depends on it succeeding.
  bool take();

  void stop();

 private:
  void run();
  bool due(uint64_t durable, std::chrono::steady_clock::time_point now) const;

  config::snapshots_config cfg_;
  std::string snapshot_dir_;
  std::string audit_dir_;
  std::shared_ptr<audit_log> log_;
  actors::snapshot_metrics* metrics_;
  uint64_t covered_;
  std::chrono::steady_clock::time_point last_taken_ = std::chrono::steady_clock::now();
  std::mutex mutex_;  // serializes take(), guards stopping_
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace castellan::actors
