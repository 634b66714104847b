// Bounded FIFO of password checks served by dedicated threads.
#include "actors/router/password_pool.hpp"

namespace castellan::actors {

password_pool::password_pool(unsigned threads, size_t max_queued)
    : thread_count_(std::max(1u, threads)), max_queued_(max_queued) {}

void password_pool::start() {
  std::lock_guard<std::mutex> guard(mutex_);
  if (!threads_.empty() || stopping_)
    return;
  for (unsigned i = 0; i < thread_count_; ++i)
    threads_.emplace_back([this] { run(); });
}

password_pool::~password_pool() { stop(); }

bool password_pool::submit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (stopping_ || queue_.size() >= max_queued_)
      return false;
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

void password_pool::stop() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_)
    if (t.joinable())
      t.join();
}

void password_pool::run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty())
        return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

}  // namespace castellan::actors
