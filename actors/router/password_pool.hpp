// A small dedicated thread pool for argon2id checks. Each check costs tens of
// milliseconds of CPU and memory-hard work: on CAF's scheduler it would stall
// every actor sharing that thread, so it never runs there. The queue is
// bounded; a full queue is an immediate `unavailable`, not growing latency.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace castellan::actors {

class password_pool {
 public:
  // Threads start with start(), so the node can order the pool's stop
  // between the front door's and the actor tree's (jobs queued before then
  // wait).
  password_pool(unsigned threads, size_t max_queued);
  ~password_pool();
  password_pool(const password_pool&) = delete;
  password_pool& operator=(const password_pool&) = delete;

  // Queues `job`; false (and `job` not run) if the queue is full or stopped.
  bool submit(std::function<void()> job);

  // Starts the threads. Once.
  void start();

  // Runs what is queued, then joins the threads. Idempotent.
  void stop();

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  unsigned thread_count_;
  size_t max_queued_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace castellan::actors
