// What /cluster shows, as plain data, and its one JSON renderer. A member of a
// cluster fills it from its cluster view; a node alone fills it from the
// monitor's summary as a one-member cluster of itself, so both answer in one
// shape (docs/metrics.md). It lives in monitor/ because the cluster
// (actors/cluster) and the composition root may both use monitor/, while
// monitor/ uses only net/ and actors/runtime.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/messages.hpp"
#include "net/peer_messages.hpp"

namespace castellan::monitor {

// One member as the reporting node sees it.
struct member_status {
  net::member_info info;  // name, addresses, incarnation; state: the reporting node's opinion
  net::member_load load;  // as the member last reported it
  int64_t heard_ms = 0;   // Unix ms the reporting node last heard from it (0: never; now: itself)
  bool self = false;      // the reporting node
};

struct cluster_status {
  std::string node;         // the reporting node
  bool clustered = false;   // false: a node alone, its only member
  uint64_t epoch = 0;       // bumped whenever either ring changes
  size_t replicas = 1;      // R, capped by the member count
  std::vector<std::string> owners;   // members that own ranges (up, suspect)
  std::vector<std::string> holders;  // owners and members still joining
  // The reporting node holds every key it holds completely (no hand-over to
  // it under way, no key lost with all its holders); a node alone always.
  bool complete = true;
  std::vector<member_status> members;  // the reporting node first
};

// /cluster's body (one JSON object and a newline); `now_ms` gives each
// member's last_heard_ago_ms.
std::string cluster_json(const cluster_status& status, int64_t now_ms);

// The load a node reports of itself, from its monitor's latest summary.
net::member_load load_of(const net::metrics_summary_reply& summary);

// A node outside a cluster: itself, up, owning everything. It has no cluster
// address, so `address` is its client address, as `client` is.
cluster_status lone_node_status(const std::string& node, const std::string& client_address,
                                int64_t started_ms, const net::metrics_summary_reply& summary,
                                int64_t now_ms);

}  // namespace castellan::monitor
