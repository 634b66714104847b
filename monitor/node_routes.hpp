// The operators' routes on one node: /metrics, /health/live, /health/ready
// and /cluster, as a plain function from path to response. The node supplies
// what to read through callbacks, so the monitor knows no component and the
// readiness JSON has one shape whether a node runs alone or in a cluster.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "monitor/http_endpoint.hpp"

namespace prometheus {
class Collectable;
}

namespace castellan::monitor {

// One reason the node is not ready: which component, and why.
struct not_ready_reason {
  std::string component;  // "audit", "cluster"
  std::string reason;
};

struct route_sources {
  std::string node;
  // What /metrics renders (the registry, the request collector...).
  std::function<std::vector<const prometheus::Collectable*>()> metrics;
  // Empty when ready. Cheap, called on the endpoint's thread.
  std::function<std::vector<not_ready_reason>()> not_ready;
  // /cluster's body, or nullopt-like empty string while nothing is known yet
  // (then 503).
  std::function<std::string()> cluster_json;
};

// Answers one GET; unknown paths get 404 with the list of paths.
http_response serve_route(const route_sources& sources, const std::string& path);

}  // namespace castellan::monitor
