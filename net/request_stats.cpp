// request_stats; see request_stats.hpp.
#include "net/request_stats.hpp"

#include <algorithm>

namespace castellan::net {

std::string_view result_name(uint8_t result) {
  if (result == result_ok)
    return "ok";
  return to_string(static_cast<error_code>(result - 1));
}

size_t latency_bucket(int64_t latency_ns) {
  double s = static_cast<double>(std::max<int64_t>(latency_ns, 0)) * 1e-9;
  auto it = std::lower_bound(latency_bounds_s.begin(), latency_bounds_s.end(), s);
  return static_cast<size_t>(it - latency_bounds_s.begin());
}

request_stats::stripe& request_stats::mine() {
  // Threads take stripes round robin on first use; with fewer threads than
  // stripes no two threads share a cache line.
  static std::atomic<size_t> next{0};
  thread_local size_t index = next.fetch_add(1, std::memory_order_relaxed) % stripe_count;
  return stripes_[index];
}

void request_stats::record(const request_tally& tally, int64_t latency_ns) {
  if (tally.empty())
    return;
  auto& s = mine();
  size_t bucket = latency_bucket(latency_ns);
  uint64_t ns = static_cast<uint64_t>(std::max<int64_t>(latency_ns, 0));
  for (size_t op = 0; op < op_kind_count; ++op) {
    uint64_t of_op = 0;
    for (uint8_t r = 0; r < result_count; ++r) {
      uint32_t n = tally.at(static_cast<op_kind>(op), r);
      if (n) {
        s.requests[op][r].fetch_add(n, std::memory_order_relaxed);
        of_op += n;
      }
    }
    if (of_op) {
      s.buckets[op][bucket].fetch_add(of_op, std::memory_order_relaxed);
      s.latency_sum_ns[op].fetch_add(ns * of_op, std::memory_order_relaxed);
    }
  }
}

request_stats_view request_stats::read() const {
  request_stats_view v;
  for (auto& s : stripes_)
    for (size_t op = 0; op < op_kind_count; ++op) {
      for (size_t r = 0; r < result_count; ++r)
        v.requests[op][r] += s.requests[op][r].load(std::memory_order_relaxed);
      for (size_t b = 0; b < latency_bucket_count; ++b)
        v.buckets[op][b] += s.buckets[op][b].load(std::memory_order_relaxed);
      v.latency_sum_s[op] += static_cast<double>(s.latency_sum_ns[op].load(std::memory_order_relaxed)) * 1e-9;
    }
  return v;
}

}  // namespace castellan::net
