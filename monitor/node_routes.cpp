// The operators' routes; see node_routes.hpp.
#include "monitor/node_routes.hpp"

#include <nlohmann/json.hpp>

#include "monitor/metrics.hpp"

namespace castellan::monitor {
namespace {

http_response json(int status, const nlohmann::json& body) {
  return {status, "application/json", body.dump() + "\n"};
}

// Ready when every write can be recorded; otherwise 503 with the reasons.
http_response ready(const route_sources& src) {
  nlohmann::json reasons = nlohmann::json::array();
  for (auto& r : src.not_ready ? src.not_ready() : std::vector<not_ready_reason>{})
    reasons.push_back({{"component", r.component}, {"reason", r.reason}});
  bool ok = reasons.empty();
  return json(ok ? 200 : 503,
              {{"status", ok ? "ready" : "not_ready"}, {"node", src.node}, {"reasons", reasons}});
}

http_response cluster(const route_sources& src) {
  auto body = src.cluster_json ? src.cluster_json() : std::string();
  if (body.empty())
    return json(503, {{"error", "the monitor has not reported yet"}});
  return {200, "application/json", std::move(body)};
}

}  // namespace

http_response serve_route(const route_sources& src, const std::string& path) {
  if (path == "/metrics")
    return {200, "text/plain; version=0.0.4; charset=utf-8", render_text(src.metrics())};
  if (path == "/health/live")
    return json(200, {{"status", "live"}, {"node", src.node}});
  if (path == "/health/ready")
    return ready(src);
  if (path == "/cluster")
    return cluster(src);
  return json(404, {{"error", "not found"},
                    {"paths", {"/metrics", "/health/live", "/health/ready", "/cluster"}}});
}

}  // namespace castellan::monitor
