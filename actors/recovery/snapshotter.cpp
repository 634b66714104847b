// The snapshotter; see snapshotter.hpp.
#include "actors/recovery/snapshotter.hpp"

#include <malloc.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include "actors/storage/audit_log.hpp"
#include "actors/recovery/session_projection.hpp"
#include "actors/recovery/snapshot_metrics.hpp"
#include "config/logging.hpp"
#include "net/wall_clock.hpp"

namespace castellan::actors {

using net::wall_ms;
namespace {

using namespace std::chrono;

// The oldest snapshot kept starts the part of the log recovery may need;
// with none yet, recovery needs the whole log.
void raise_retention_floor(audit_log& log, const std::string& dir) {
  auto positions = snapshot_positions(dir);
  log.set_retention_floor(positions.empty() ? 1 : positions.front());
}

}  // namespace

snapshotter::snapshotter(config::snapshots_config cfg, std::string snapshot_dir,
                         std::string audit_dir, std::shared_ptr<audit_log> log, uint64_t covered,
                         actors::snapshot_metrics* metrics)
    : cfg_(std::move(cfg)), snapshot_dir_(std::move(snapshot_dir)), audit_dir_(std::move(audit_dir)),
      log_(std::move(log)), metrics_(metrics), covered_(covered) {
  raise_retention_floor(*log_, snapshot_dir_);
  thread_ = std::thread([this] { run(); });
}

snapshotter::~snapshotter() { stop(); }

void snapshotter::stop() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

bool snapshotter::due(uint64_t durable, steady_clock::time_point now) const {
  if (durable <= covered_)
    return false;  // nothing new
  return durable - covered_ >= cfg_.every_records || now - last_taken_ >= seconds(cfg_.interval_s);
}

void snapshotter::run() {
  // Below the I/O threads and CAF's workers: a snapshot may take a while,
  // validate may not wait for it.
  setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, milliseconds(200), [this] { return stopping_; });
    if (stopping_)
      break;
    if (!due(log_->durable_next_index(), steady_clock::now()))
      continue;
    lock.unlock();
    take();
    lock.lock();
  }
}

bool snapshotter::take() {
  auto started = steady_clock::now();
  uint64_t target = log_->durable_next_index();
  try {
    replay_report report;
    auto projection = replay(snapshot_dir_, audit_dir_, target, report);
    auto image = projection.image(wall_ms());
    image.log_position = target;  // every durable record below it is folded in
    image.taken_ms = wall_ms();
    auto bytes = write_snapshot(snapshot_dir_, image, cfg_.keep);
    size_t sessions = image.sessions.size(), lockouts = image.lockouts.size();
    image = {};
    projection = {};
    // The fold held a copy of every session in small blocks that free()
    // keeps for reuse, so the node would hold them as resident memory until
    // the next snapshot; malloc_trim hands their whole free pages back to
    // the system (glibc; on this thread, off the request path).
    malloc_trim(0);
    covered_ = target;
    last_taken_ = steady_clock::now();
    raise_retention_floor(*log_, snapshot_dir_);
    double took = duration<double>(last_taken_ - started).count();
    spdlog::info("snapshot at log position {}: {} sessions, {} lockouts, {} bytes in {:.3f} s",
                 target, sessions, lockouts, bytes, took);
    if (metrics_) {
      metrics_->written->Increment();
      metrics_->seconds->Set(took);
      metrics_->bytes->Set(static_cast<double>(bytes));
      metrics_->position->Set(static_cast<double>(target));
    }
    return true;
  } catch (const std::exception& e) {
    last_taken_ = steady_clock::now();  // retry at the next interval, not in a loop
    spdlog::error("snapshot at log position {} failed (recovery replays more of the log): {}",
                  target, e.what());
    if (metrics_)
      metrics_->failed->Increment();
    return false;
  }
}

}  // namespace castellan::actors
