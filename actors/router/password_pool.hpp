// A small dedicated thread pool for argon2id checks, with admission control.
//
// Each check costs tens of milliseconds of CPU and memory-hard work: on CAF's
// scheduler it would stall every actor sharing that thread, so it never runs
// there. The queue is bounded by waiting time, not only by count: a check is
// admitted only if the checks ahead of it should finish within `max_wait`
// (judged from the measured time of recent checks), so under a login storm
// the excess is refused at once with a hint of when to retry, and the checks
// admitted are served while their clients still wait for them (CoDel's idea of
// a target sojourn time, as Facebook's Wangle servers use it). A check whose
// asker has gone (its connection closed) is dropped when its turn comes,
// without spending argon2 time on it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "actors/router/login_metrics.hpp"

namespace castellan::actors {

// One password check and what to do if it is not run.
struct password_check {
  std::function<void()> run;  // on a pool thread
  // Not run, because of `why`; `retry_after_ms` is a hint for the client.
  // Called on the submitting thread (refused at once) or on a pool thread.
  std::function<void(shed_reason why, uint64_t retry_after_ms)> shed;
  // True once nobody waits for the result any more; may be empty.
  std::function<bool()> abandoned;
};

class password_pool {
 public:
  using clock = std::chrono::steady_clock;

  struct settings {
    unsigned threads = 1;
    size_t max_queued = 1024;                      // memory bound: checks waiting at most
    std::chrono::milliseconds max_wait{30};        // admission bound on the expected wait
  };

  // Threads start with start(), so the node can order the pool's stop
  // between the front door's and the actor tree's (checks queued before
  // then wait). `metrics` may be null; it must outlive the pool.
  explicit password_pool(settings s, login_metrics* metrics = nullptr);
  ~password_pool();
  password_pool(const password_pool&) = delete;
  password_pool& operator=(const password_pool&) = delete;

  // If a check submitted now would be shed at once: counts it as shed and
  // says why and when to retry; nullopt if it would be queued. Lets a login
  // be refused before anything else is spent on it (the limiter's allowance
  // included).
  struct refusal {
    shed_reason why;
    uint64_t retry_after_ms;
  };
  std::optional<refusal> refuse_now();

  // Queues `check`, or sheds it at once (queue full, expected wait too
  // long, pool stopped). Either way exactly one of run/shed is called.
  void submit(password_check check);

  // The metrics given at construction (may be null).
  login_metrics* metrics() const { return metrics_; }

  // Starts the threads. Once.
  void start();

  // Runs what is queued, then joins the threads. Idempotent.
  void stop();

 private:
  struct queued_check {
    password_check check;
    clock::time_point queued_at;
  };

  void run();
  // Under mutex_: how long a check queued now should wait for a thread.
  std::chrono::microseconds expected_wait_locked() const;
  void note_check_time(std::chrono::microseconds took);
  void publish_pending_locked();
  void count_shed(shed_reason why);
  std::optional<refusal> refusal_locked() const;
  static uint64_t retry_hint_ms(std::chrono::microseconds wait, std::chrono::milliseconds bound);

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<queued_check> queue_;
  settings settings_;
  login_metrics* metrics_;
  unsigned busy_ = 0;                      // checks running now
  std::chrono::microseconds check_time_{0};  // moving average of a check's duration
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace castellan::actors
