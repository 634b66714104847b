// The monitor actor: one per node. Every interval it reads the node's
// counters (request_stats, the metric handles, restarts, mailbox depths),
// turns totals into rates and last-interval latency quantiles, and
// publishes the result on the status_board, where op `metrics_summary`,
// `authctl status` and /cluster read it without waiting on any actor.
// (/cluster's model and renderer are cluster_status.hpp.)
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "monitor/status_board.hpp"

namespace castellan::net {
class request_stats;
}

namespace castellan::monitor {

// Everything the monitor reads; all of it outlives the actor.
struct monitor_sources {
  std::string node;
  std::function<std::string()> address;  // host:port of the client listener, once bound
  int64_t started_ms = 0;
  std::chrono::milliseconds interval{1000};
  const net::request_stats* requests = nullptr;  // null: request metrics off
  // Fills the summary's gauges (sessions, connections, audit, limiter,
  // actors) from the components' own metrics: the monitor knows none of
  // them. Cheap, any thread.
  std::function<void(net::metrics_summary_reply&)> read_gauges;
  // Why the node is not ready (empty: ready). Cheap, any thread.
  std::function<std::vector<std::string>()> not_ready;
  std::shared_ptr<status_board> board;
};

// Spawns the monitor; it publishes a first summary before its first tick.
caf::actor spawn_monitor(caf::actor_system& sys, monitor_sources sources);


}  // namespace castellan::monitor
