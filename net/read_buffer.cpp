// The read buffer and its node-wide budget; see read_buffer.hpp.
#include "net/read_buffer.hpp"

#include <algorithm>
#include <cstring>

#include <prometheus/gauge.h>

namespace castellan::net {

read_budget::read_budget(uint64_t limit, prometheus::Gauge* held_gauge)
    : limit_(limit), gauge_(held_gauge) {}

bool read_budget::try_take(uint64_t n, uint64_t ceiling) {
  ceiling = std::min(ceiling, limit_);
  uint64_t now = held_.load(std::memory_order_relaxed);
  do {
    if (n > ceiling || now > ceiling - n)
      return false;
  } while (!held_.compare_exchange_weak(now, now + n, std::memory_order_relaxed));
  if (gauge_)
    gauge_->Increment(static_cast<double>(n));
  return true;
}

void read_budget::give_back(uint64_t n) {
  held_.fetch_sub(n, std::memory_order_relaxed);
  if (gauge_)
    gauge_->Decrement(static_cast<double>(n));
}

read_buffer::read_buffer(read_budget* budget)
    : budget_(budget), data_(new char[base_bytes]), capacity_(base_bytes) {}

read_buffer::~read_buffer() {
  if (budget_ && leased() > 0)
    budget_->give_back(leased());
}

void read_buffer::consume(size_t n) {
  n = std::min(n, used_);
  if (n == 0)
    return;
  std::memmove(data_.get(), data_.get() + n, used_ - n);
  used_ -= n;
}

bool read_buffer::resize(size_t capacity, uint64_t ceiling) {
  size_t before = leased(), after = lease_of(capacity);
  if (budget_ && after > before && !budget_->try_take(after - before, ceiling))
    return false;
  // Not value-initialised: pages the kernel hands out stay untouched until
  // bytes arrive in them.
  std::unique_ptr<char[]> fresh(new char[capacity]);
  std::memcpy(fresh.get(), data_.get(), used_);
  data_ = std::move(fresh);
  capacity_ = capacity;
  if (budget_ && after < before)
    budget_->give_back(before - after);
  return true;
}

bool read_buffer::make_room(size_t frame_bytes, bool streaming) {
  uint64_t unlimited = UINT64_MAX;
  if (frame_bytes > capacity_ && free_bytes() < std::min(min_read_bytes, frame_bytes - used_)) {
    // Capacity only grows once it is nearly full, to twice itself: it stays
    // within twice the bytes held plus a read, however much was announced.
    size_t grown = std::min(frame_bytes, std::max(2 * capacity_, used_ + min_read_bytes));
    return resize(grown, unlimited);
  }
  if (streaming && capacity_ < max_batch_bytes) {
    uint64_t half = budget_ ? budget_->limit() / 2 : unlimited;
    resize(std::min(2 * capacity_, max_batch_bytes), half);  // refused: smaller reads, no harm
  }
  return true;
}

void read_buffer::trim(bool streaming) {
  if (!streaming && used_ <= base_bytes && capacity_ > base_bytes)
    resize(base_bytes, 0);
  else if (used_ == 0 && capacity_ > max_batch_bytes)
    resize(max_batch_bytes, 0);
}

}  // namespace castellan::net
