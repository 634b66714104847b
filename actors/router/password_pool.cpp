// Password checks on dedicated threads, admitted by expected waiting time;
// see password_pool.hpp.
#include "actors/router/password_pool.hpp"

#include <algorithm>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

namespace castellan::actors {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

password_pool::password_pool(settings s, login_metrics* metrics)
    : settings_(s), metrics_(metrics) {
  settings_.threads = std::max(1u, settings_.threads);
}

void password_pool::start() {
  std::lock_guard<std::mutex> guard(mutex_);
  if (!threads_.empty() || stopping_)
    return;
  for (unsigned i = 0; i < settings_.threads; ++i)
    threads_.emplace_back([this] { run(); });
}

password_pool::~password_pool() { stop(); }

// A check queued now waits for every check queued before it, spread over the
// threads, plus one check's time when every thread is busy. Until a first
// check has been timed the estimate is 0: only the count bounds the queue.
microseconds password_pool::expected_wait_locked() const {
  if (busy_ < settings_.threads && queue_.empty())
    return microseconds{0};
  auto ahead = static_cast<int64_t>(queue_.size()) + 1;
  return check_time_ * ahead / settings_.threads;
}

// How long until the queue should be short enough: the excess over the bound,
// at least a millisecond.
uint64_t password_pool::retry_hint_ms(microseconds wait, milliseconds bound) {
  auto excess = duration_cast<milliseconds>(wait - bound + milliseconds(1));
  return static_cast<uint64_t>(std::max<int64_t>(1, excess.count()));
}

std::optional<password_pool::refusal> password_pool::refusal_locked() const {
  if (stopping_)
    return refusal{shed_reason::stopping, 0};
  auto wait = expected_wait_locked();
  if (queue_.size() >= settings_.max_queued) {
    // Full by count: a place frees up once a check is done, not sooner.
    auto hint = std::max<microseconds>(check_time_, settings_.max_wait);
    return refusal{shed_reason::queue_full,
                   static_cast<uint64_t>(std::chrono::ceil<milliseconds>(hint).count())};
  }
  if (wait > settings_.max_wait)
    return refusal{shed_reason::wait, retry_hint_ms(wait, settings_.max_wait)};
  return std::nullopt;
}

std::optional<password_pool::refusal> password_pool::refuse_now() {
  std::optional<refusal> refused;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    refused = refusal_locked();
  }
  if (refused)
    count_shed(refused->why);
  return refused;
}

void password_pool::submit(password_check check) {
  std::optional<refusal> refused;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    refused = refusal_locked();
    if (!refused) {
      queue_.push_back({std::move(check), clock::now()});
      publish_pending_locked();
      wake_.notify_one();
      return;
    }
  }
  count_shed(refused->why);
  check.shed(refused->why, refused->retry_after_ms);
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

// An exponentially weighted moving average (1/8 per sample): follows a change
// of cost (new argon2 parameters, a busier machine) within a few checks.
void password_pool::note_check_time(microseconds took) {
  std::lock_guard<std::mutex> guard(mutex_);
  check_time_ = check_time_.count() == 0 ? took : check_time_ + (took - check_time_) / 8;
  --busy_;
  publish_pending_locked();
}

void password_pool::publish_pending_locked() {
  if (metrics_ && metrics_->pending)
    metrics_->pending->Set(static_cast<double>(queue_.size() + busy_));
}

void password_pool::count_shed(shed_reason why) {
  if (metrics_ && metrics_->shed[static_cast<size_t>(why)])
    metrics_->shed[static_cast<size_t>(why)]->Increment();
}

void password_pool::run() {
  for (;;) {
    queued_check next;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty())
        return;
      next = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
      publish_pending_locked();
    }
    auto started = clock::now();
    std::optional<shed_reason> skip;
    if (next.check.abandoned && next.check.abandoned())
      skip = shed_reason::abandoned;
    else if (started - next.queued_at > 2 * settings_.max_wait)
      skip = shed_reason::stale;
    if (skip) {
      {
        std::lock_guard<std::mutex> guard(mutex_);
        --busy_;
        publish_pending_locked();
      }
      count_shed(*skip);
      auto retry_after_ms = *skip == shed_reason::stale ? settings_.max_wait.count() : 0;
      next.check.shed(*skip, static_cast<uint64_t>(retry_after_ms));
      continue;
    }
    next.check.run();
    note_check_time(duration_cast<microseconds>(clock::now() - started));
  }
}

}  // namespace castellan::actors
