// /cluster's one renderer and the one-member status of a node alone; see
// cluster_status.hpp. State names come from net/member_state.hpp's table, the
// same the wire and the metrics use.
#include "monitor/cluster_status.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "net/member_state.hpp"

namespace castellan::monitor {
namespace {

nlohmann::json member_json(const member_status& m, int64_t now_ms) {
  return {{"name", m.info.name},
          {"self", m.self},
          {"state", std::string(net::to_string(m.info.state))},
          {"address", m.info.address},
          {"client", m.info.client},
          {"incarnation", m.info.incarnation},
          {"last_heard_ms", m.heard_ms},
          {"last_heard_ago_ms", m.heard_ms ? now_ms - m.heard_ms : -1},
          {"load", {{"ready", m.load.ready},
                    {"requests_per_s", m.load.requests_per_s},
                    {"error_share", m.load.error_share},
                    {"p99_ms", m.load.p99_ms},
                    {"sessions_active", m.load.sessions}}},
          {"not_ready", m.load.not_ready},
          {"restarts", m.load.restarts}};
}

}  // namespace

std::string cluster_json(const cluster_status& status, int64_t now_ms) {
  nlohmann::json members = nlohmann::json::array();
  for (auto& m : status.members)
    members.push_back(member_json(m, now_ms));
  return nlohmann::json{{"node", status.node},
                        {"clustered", status.clustered},
                        {"epoch", status.epoch},
                        {"replicas", status.replicas},
                        {"owners", status.owners},
                        {"holders", status.holders},
                        {"complete", status.complete},
                        {"members", members}}
             .dump() +
         "\n";
}

net::member_load load_of(const net::metrics_summary_reply& summary) {
  net::member_load load;
  load.ready = summary.ready;
  load.not_ready = summary.not_ready;
  load.sessions = summary.sessions_active;
  double errors = 0;
  for (auto& o : summary.ops) {
    load.requests_per_s += o.rate_per_s;
    load.p99_ms = std::max(load.p99_ms, o.p99_ms);
    errors += o.rate_per_s * o.error_ratio;
  }
  load.error_share = load.requests_per_s > 0 ? errors / load.requests_per_s : 0;
  for (auto& a : summary.actors)
    load.restarts += a.restarts;
  return load;
}

cluster_status lone_node_status(const std::string& node, const std::string& client_address,
                                int64_t started_ms, const net::metrics_summary_reply& summary,
                                int64_t now_ms) {
  member_status self;
  self.info.name = node;
  self.info.address = client_address;
  self.info.client = client_address;
  self.info.state = net::member_state::up;
  self.info.incarnation = static_cast<uint64_t>(started_ms);
  self.load = load_of(summary);
  self.heard_ms = now_ms;
  self.self = true;
  cluster_status status;
  status.node = node;
  status.owners = {node};
  status.holders = {node};
  status.members.push_back(std::move(self));
  return status;
}

}  // namespace castellan::monitor
