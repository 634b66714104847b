// Where the monitor actor publishes what it aggregated, for readers that
// must not wait on an actor: the front door's I/O threads (op
// `metrics_summary`) and the HTTP endpoint's thread (/cluster). The monitor
// replaces whole immutable snapshots; readers take a reference.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "net/messages.hpp"

namespace castellan::monitor {

class status_board {
 public:
  std::shared_ptr<const net::metrics_summary_reply> summary() const { return summary_.load(); }
  void publish_summary(std::shared_ptr<const net::metrics_summary_reply> s) { summary_.store(std::move(s)); }

 private:
  std::atomic<std::shared_ptr<const net::metrics_summary_reply>> summary_;
};

}  // namespace castellan::monitor
