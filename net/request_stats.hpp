// Requests by op and result, and their latency by op: counted where a reply
// is settled (owed_replies, or the front door for what it answers itself).
// At several hundred thousand validates a second a shared counter would be
// a contended cache line, so the counts live in stripes (one per thread,
// round robin) of relaxed atomics, and callers add a whole batch at once
// through a request_tally. A scrape sums the stripes (Envoy's and Seastar's
// per-thread stats, merged when read). No Prometheus types here: monitor/
// turns a request_stats_view into metric families.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "net/error_code.hpp"
#include "net/frame_codec.hpp"

namespace castellan::net {

// Result 0 is ok; error code c is result c + 1.
inline constexpr size_t result_count = static_cast<size_t>(error_code::unknown_op) + 2;
inline constexpr uint8_t result_ok = 0;
inline constexpr uint8_t result_of(error_code code) { return static_cast<uint8_t>(code) + 1; }
std::string_view result_name(uint8_t result);
// op_kind_count and op_name() come from the schema (protocol_schema.hpp).

// Latency bucket upper bounds in seconds (Prometheus `le`), then +Inf.
// Spans a validate (tens of µs) to an argon2 login (tens to hundreds of ms).
inline constexpr std::array<double, 14> latency_bounds_s = {
    25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1.0};
inline constexpr size_t latency_bucket_count = latency_bounds_s.size() + 1;
size_t latency_bucket(int64_t latency_ns);

// Outcomes of one batch of replies, gathered without atomics by one thread.
class request_tally {
 public:
  void add(op_kind op, uint8_t result, uint32_t n = 1) {
    counts_[static_cast<size_t>(op)][result] += n;
    touched_ = true;
  }
  bool empty() const { return !touched_; }
  uint32_t at(op_kind op, uint8_t result) const { return counts_[static_cast<size_t>(op)][result]; }
  void clear() {
    if (touched_)
      counts_ = {};
    touched_ = false;
  }

 private:
  std::array<std::array<uint32_t, result_count>, op_kind_count> counts_{};
  bool touched_ = false;
};

// A consistent-enough sum of every stripe (each cell is read atomically).
struct request_stats_view {
  std::array<std::array<uint64_t, result_count>, op_kind_count> requests{};
  std::array<std::array<uint64_t, latency_bucket_count>, op_kind_count> buckets{};  // not cumulative
  std::array<double, op_kind_count> latency_sum_s{};
};

class request_stats {
 public:
  // Adds `tally`, every request of which took `latency_ns` from its read to
  // its reply. Any thread; wait-free.
  void record(const request_tally& tally, int64_t latency_ns);
  request_stats_view read() const;

 private:
  static constexpr size_t stripe_count = 8;
  struct alignas(64) stripe {
    std::array<std::array<std::atomic<uint64_t>, result_count>, op_kind_count> requests{};
    std::array<std::array<std::atomic<uint64_t>, latency_bucket_count>, op_kind_count> buckets{};
    std::array<std::atomic<uint64_t>, op_kind_count> latency_sum_ns{};
  };
  stripe& mine();
  std::array<stripe, stripe_count> stripes_;
};

}  // namespace castellan::net
