// /cluster and `authctl cluster status --json`; see cluster_view.hpp.
#include "actors/cluster/cluster_view.hpp"

#include <nlohmann/json.hpp>

namespace castellan::actors {

std::string cluster_json(const cluster_view& view, int64_t now_ms) {
  nlohmann::json members = nlohmann::json::array();
  for (auto& m : view.members)
    members.push_back({{"name", m.info.name},
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
                       {"restarts", m.load.restarts}});
  nlohmann::json owners = nlohmann::json::array(), holders = nlohmann::json::array();
  if (view.owners)
    for (auto& n : view.owners->members())
      owners.push_back(n);
  if (view.holders)
    for (auto& n : view.holders->members())
      holders.push_back(n);
  return nlohmann::json{{"node", view.self},
                        {"clustered", true},
                        {"epoch", view.epoch},
                        {"replicas", view.owners ? view.owners->replicas() : 1},
                        {"owners", owners},
                        {"holders", holders},
                        {"members", members}}
             .dump() +
         "\n";
}

}  // namespace castellan::actors
