// /cluster's one renderer (monitor/cluster_status.hpp): a cluster member's
// view and a node alone come out in one shape, with state names from the one
// table (net/member_state.hpp). No processes.
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "monitor/cluster_status.hpp"

namespace castellan::monitor {
namespace {

using net::member_state;

std::set<std::string> keys_of(const nlohmann::json& object) {
  std::set<std::string> out;
  for (auto& [key, value] : object.items())
    out.insert(key);
  return out;
}

net::metrics_summary_reply summary_of(bool ready) {
  net::metrics_summary_reply s;
  s.node = "solo";
  s.ready = ready;
  if (!ready)
    s.not_ready = {"audit: disk full"};
  s.sessions_active = 7;
  s.ops = {{"validate", 100, 40.0, 0.25, 0.1, 2.0}, {"login", 10, 10.0, 0.0, 1.0, 8.0}};
  s.actors = {{"session_shard", 2, 0}, {"audit_writer", 1, 0}};
  return s;
}

cluster_status two_members() {
  cluster_status status;
  status.node = "node-a";
  status.clustered = true;
  status.epoch = 4;
  status.replicas = 2;
  status.owners = {"node-a"};
  status.holders = {"node-a", "node-b"};
  member_status a{{"node-a", "127.0.0.1:7511", "127.0.0.1:7411", member_state::up, 11}, {}, 1000,
                  true};
  member_status b{{"node-b", "127.0.0.1:7512", "127.0.0.1:7412", member_state::joining, 12}, {},
                  900, false};
  member_status c{{"node-c", "127.0.0.1:7513", "", member_state::down, 0}, {}, 0, false};
  status.members = {a, b, c};
  return status;
}

TEST(ClusterStatus, RendersAClusterMembersView) {
  auto json = nlohmann::json::parse(cluster_json(two_members(), 1250));
  EXPECT_EQ(json["node"], "node-a");
  EXPECT_EQ(json["clustered"], true);
  EXPECT_EQ(json["epoch"], 4);
  EXPECT_EQ(json["replicas"], 2);
  EXPECT_EQ(json["owners"], nlohmann::json::array({"node-a"}));
  EXPECT_EQ(json["holders"], nlohmann::json::array({"node-a", "node-b"}));
  auto& members = json["members"];
  ASSERT_EQ(members.size(), 3u);
  EXPECT_EQ(members[0]["state"], "up");
  EXPECT_EQ(members[0]["self"], true);
  EXPECT_EQ(members[0]["last_heard_ago_ms"], 250);
  EXPECT_EQ(members[1]["state"], "joining");
  EXPECT_EQ(members[1]["address"], "127.0.0.1:7512");
  EXPECT_EQ(members[1]["client"], "127.0.0.1:7412");
  EXPECT_EQ(members[1]["incarnation"], 12);
  EXPECT_EQ(members[2]["state"], "down");
  EXPECT_EQ(members[2]["last_heard_ago_ms"], -1);  // never heard from
}

TEST(ClusterStatus, ANodeAloneIsAOneMemberClusterOfItselfUp) {
  auto status = lone_node_status("solo", "127.0.0.1:7400", 500, summary_of(true), 2000);
  auto json = nlohmann::json::parse(cluster_json(status, 2000));
  EXPECT_EQ(json["node"], "solo");
  EXPECT_EQ(json["clustered"], false);
  EXPECT_EQ(json["replicas"], 1);
  EXPECT_EQ(json["owners"], nlohmann::json::array({"solo"}));
  EXPECT_EQ(json["holders"], nlohmann::json::array({"solo"}));
  ASSERT_EQ(json["members"].size(), 1u);
  auto& self = json["members"][0];
  EXPECT_EQ(self["name"], "solo");
  EXPECT_EQ(self["self"], true);
  EXPECT_EQ(self["state"], "up");
  EXPECT_EQ(self["address"], "127.0.0.1:7400");  // no cluster address: its client address
  EXPECT_EQ(self["client"], "127.0.0.1:7400");
  EXPECT_EQ(self["incarnation"], 500);
  EXPECT_EQ(self["last_heard_ms"], 2000);
  EXPECT_EQ(self["last_heard_ago_ms"], 0);
  EXPECT_EQ(self["load"]["ready"], true);
  EXPECT_DOUBLE_EQ(self["load"]["requests_per_s"].get<double>(), 50.0);
  EXPECT_DOUBLE_EQ(self["load"]["error_share"].get<double>(), 0.2);  // 10 of 50 per second
  EXPECT_DOUBLE_EQ(self["load"]["p99_ms"].get<double>(), 8.0);
  EXPECT_EQ(self["load"]["sessions_active"], 7);
  EXPECT_EQ(self["restarts"], 3);
}

TEST(ClusterStatus, ANodeAloneNotReadyIsStillUpWithItsReasons) {
  auto status = lone_node_status("solo", "127.0.0.1:7400", 500, summary_of(false), 2000);
  auto self = nlohmann::json::parse(cluster_json(status, 2000))["members"][0];
  EXPECT_EQ(self["state"], "up");
  EXPECT_EQ(self["load"]["ready"], false);
  EXPECT_EQ(self["not_ready"], nlohmann::json::array({"audit: disk full"}));
}

TEST(ClusterStatus, OneShapeAloneAndInACluster) {
  auto clustered = nlohmann::json::parse(cluster_json(two_members(), 1250));
  auto alone = nlohmann::json::parse(
      cluster_json(lone_node_status("solo", "127.0.0.1:7400", 500, summary_of(true), 2000), 2000));
  EXPECT_EQ(keys_of(clustered), keys_of(alone));
  EXPECT_EQ(keys_of(clustered["members"][0]), keys_of(alone["members"][0]));
  EXPECT_EQ(keys_of(clustered["members"][0]["load"]), keys_of(alone["members"][0]["load"]));
}

}  // namespace
}  // namespace castellan::monitor
