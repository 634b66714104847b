// The monitor actor; see monitor_actor.hpp.
#include "monitor/monitor_actor.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/runtime/atoms.hpp"
#include "net/request_stats.hpp"
#include "net/wall_clock.hpp"

namespace castellan::monitor {

using net::wall_ms;
namespace {

using namespace std::chrono;

struct monitor_state {
  monitor_sources src;
  net::request_stats_view last;  // totals at the previous tick
  steady_clock::time_point last_at = steady_clock::now();
  static inline const char* name = "monitor";
};

// The upper bound (ms) of the bucket holding quantile q of `buckets`.
double quantile_ms(const std::array<uint64_t, net::latency_bucket_count>& buckets, uint64_t total,
                   double q) {
  if (total == 0)
    return 0;
  auto rank = static_cast<uint64_t>(q * static_cast<double>(total - 1)) + 1;
  uint64_t seen = 0;
  for (size_t b = 0; b < buckets.size(); ++b) {
    seen += buckets[b];
    if (seen >= rank)
      return b < net::latency_bounds_s.size() ? net::latency_bounds_s[b] * 1e3
                                              : net::latency_bounds_s.back() * 1e3;  // beyond: >1 s
  }
  return net::latency_bounds_s.back() * 1e3;
}

std::vector<net::op_summary> op_summaries(const net::request_stats_view& now,
                                          const net::request_stats_view& before, double seconds) {
  std::vector<net::op_summary> out;
  for (size_t op = 0; op < net::op_kind_count; ++op) {
    uint64_t total = 0, delta = 0, errors = 0;
    for (size_t r = 0; r < net::result_count; ++r) {
      total += now.requests[op][r];
      uint64_t d = now.requests[op][r] - before.requests[op][r];
      delta += d;
      if (r != net::result_ok)
        errors += d;
    }
    if (total == 0)
      continue;
    std::array<uint64_t, net::latency_bucket_count> buckets{};
    uint64_t observed = 0;
    for (size_t b = 0; b < buckets.size(); ++b) {
      buckets[b] = now.buckets[op][b] - before.buckets[op][b];
      observed += buckets[b];
    }
    net::op_summary s;
    s.op = std::string(net::op_name(static_cast<net::op_kind>(op)));
    s.total = total;
    s.rate_per_s = seconds > 0 ? static_cast<double>(delta) / seconds : 0;
    s.error_ratio = delta ? static_cast<double>(errors) / static_cast<double>(delta) : 0;
    s.p50_ms = quantile_ms(buckets, observed, 0.50);
    s.p99_ms = quantile_ms(buckets, observed, 0.99);
    out.push_back(std::move(s));
  }
  return out;
}

void publish(monitor_state& st) {
  auto& src = st.src;
  auto now_at = steady_clock::now();
  double seconds = duration<double>(now_at - st.last_at).count();
  auto summary = std::make_shared<net::metrics_summary_reply>();
  summary->node = src.node;
  summary->uptime_ms = wall_ms() - src.started_ms;
  summary->interval_s = seconds;
  summary->not_ready = src.not_ready ? src.not_ready() : std::vector<std::string>{};
  summary->ready = summary->not_ready.empty();
  if (src.read_gauges)
    src.read_gauges(*summary);
  if (src.requests) {
    auto view = src.requests->read();
    summary->ops = op_summaries(view, st.last, seconds);
    st.last = view;
  }
  st.last_at = now_at;
  src.board->publish_summary(std::move(summary));
}

caf::behavior monitor_behavior(caf::stateful_actor<monitor_state>* self, monitor_sources src) {
  self->state.src = std::move(src);
  if (self->state.src.requests)
    self->state.last = self->state.src.requests->read();
  publish(self->state);
  self->delayed_send(self, self->state.src.interval, actors::sweep_atom_v);
  return {
    [=](actors::sweep_atom) {
      publish(self->state);
      self->delayed_send(self, self->state.src.interval, actors::sweep_atom_v);
    },
    [=](actors::crash_atom) { throw std::runtime_error("monitor crash (fault injection)"); },
  };
}

}  // namespace

caf::actor spawn_monitor(caf::actor_system& sys, monitor_sources sources) {
  return sys.spawn(monitor_behavior, std::move(sources));
}

}  // namespace castellan::monitor
