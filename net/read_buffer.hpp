// A connection's input buffer, sized by the bytes that arrived rather than
// by the length a frame header announces: a 5-byte partial frame announcing
// 64 KiB used to buy 64 KiB, so max_connections x max_frame_bytes of memory
// was there for the asking (issue 13, item 6). Each connection keeps a fixed
// base buffer; whatever it holds beyond that (a frame too big for it, a
// larger batch for a client that streams) is leased from one node-wide
// read_budget, so the total is bounded whatever clients announce.
// Internal to net/; used on a connection's I/O thread only.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "net/prometheus_fwd.hpp"

namespace castellan::net {

// Bytes all read buffers may hold beyond their base, node-wide
// (server.read_buffer_budget_bytes). Any thread.
class read_budget {
 public:
  // `held_gauge`, if given, follows held() (castellan_read_buffer_bytes).
  explicit read_budget(uint64_t limit, prometheus::Gauge* held_gauge = nullptr);

  // Takes `n` bytes if held() stays within `ceiling` (at most limit());
  // otherwise takes nothing and returns false.
  bool try_take(uint64_t n, uint64_t ceiling);
  bool try_take(uint64_t n) { return try_take(n, limit_); }
  void give_back(uint64_t n);

  uint64_t held() const { return held_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> held_{0};
  prometheus::Gauge* gauge_;
};

class read_buffer {
 public:
  // Every connection has this much, outside the budget (max_connections
  // bounds it); a frame that fits in it never touches the budget.
  static constexpr size_t base_bytes = 4 * 1024;
  // A client whose reads fill the buffer gets bigger reads (more requests
  // per read, so fewer actor messages), up to this.
  static constexpr size_t max_batch_bytes = 64 * 1024;
  // A frame still arriving is given at least this much room per read.
  static constexpr size_t min_read_bytes = 1024;

  explicit read_buffer(read_budget* budget);  // null: no limit (unit tests)
  ~read_buffer();
  read_buffer(const read_buffer&) = delete;
  read_buffer& operator=(const read_buffer&) = delete;

  // Bytes read and not yet consumed, from the start of a frame.
  std::string_view held() const { return {data_.get(), used_}; }
  size_t used() const { return used_; }
  size_t capacity() const { return capacity_; }
  size_t leased() const { return lease_of(capacity_); }

  // Where the next read writes, and how much it may write.
  char* free_begin() { return data_.get() + used_; }
  size_t free_bytes() const { return capacity_ - used_; }
  void commit(size_t n) { used_ += n; }
  // Drops `n` handled bytes from the front (whole frames).
  void consume(size_t n);
  void clear() { used_ = 0; }

  // Before a read. `frame_bytes` is header + body of the frame at the front
  // once its header has arrived (0 before). When that frame needs more room
  // than is free, grows geometrically with what arrived (to at most twice
  // the bytes held plus a read) and never past the frame; false if the
  // budget cannot lease that (nothing changes). Otherwise, when `streaming`
  // (the last read filled the buffer), doubles towards max_batch_bytes if the
  // budget has room in its first half: batches never crowd out frames.
  bool make_room(size_t frame_bytes, bool streaming);

  // After a read's frames were handled: a buffer that is not streaming and
  // whose bytes fit in the base goes back to the base, and one that grew past
  // max_batch_bytes for a frame shrinks once that frame is done, returning
  // its lease.
  void trim(bool streaming);

 private:
  static size_t lease_of(size_t capacity) {
    return capacity > base_bytes ? capacity - base_bytes : 0;
  }
  // Reallocates to exactly `capacity` (>= used_), leasing or giving back the
  // difference; false (nothing changes) if the lease would pass `ceiling`.
  bool resize(size_t capacity, uint64_t ceiling);

  read_budget* budget_;
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  size_t used_ = 0;
};

}  // namespace castellan::net
