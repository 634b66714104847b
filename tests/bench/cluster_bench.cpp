// Cluster figures on this machine (docs/performance.md, "Cluster"); not part
// of the test run. Real authd processes on 127.0.0.1, started like the
// cluster tests from examples/cluster-3:
//   cluster_bench failover [ROUNDS]   kill -9 the owner of 200 sessions; time
//                                     until every one validates on a survivor
//   cluster_bench handover [SESSIONS] two members hold SESSIONS; time for a
//                                     third to join, take its share and be up
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "net/messages.hpp"
#include "tests/cluster/test_cluster.hpp"

using namespace castellan;
using namespace std::chrono;

namespace {

double ms_since(steady_clock::time_point t0) {
  return duration<double, std::milli>(steady_clock::now() - t0).count();
}

// All `tokens` validated in one pipelined pass on `c`: true if every one is ok.
bool all_valid(net::client& c, const std::vector<std::string>& tokens) {
  for (auto& t : tokens)
    c.queue(net::validate_request{0, t});
  c.flush();
  bool ok = true;
  for (size_t i = 0; i < tokens.size(); ++i) {
    auto r = c.receive(milliseconds(5000));
    ok = ok && r && r->ok;
  }
  return ok;
}

int failover(int rounds) {
  test::test_cluster cluster;
  if (!test::eventually([&] { return cluster.converged(); }, seconds(30)))
    return 1;
  std::vector<double> took;
  for (int round = 0; round < rounds; ++round) {
    std::vector<std::string> owned;
    auto gateway = net::client::connect("127.0.0.1", cluster.client_port(0), seconds(5));
    while (owned.size() < 200) {
      auto r = gateway.login("alice", test::alice_password);
      if (!r.ok)
        continue;
      auto token = r.as<net::login_reply>().token;
      if (cluster.owner_of(cluster.key_of(token)) == "node-b")
        owned.push_back(token);
    }
    auto survivor = net::client::connect("127.0.0.1", cluster.client_port(2), seconds(5));
    auto t0 = steady_clock::now();
    ::kill(cluster.node(1).pid(), SIGKILL);  // reaped below, after the measurement
    while (!all_valid(survivor, owned) && ms_since(t0) < 30000) {
    }
    took.push_back(ms_since(t0));
    cluster.kill_hard(1);
    bool other_too = all_valid(gateway, owned);
    std::printf("round %d: %zu sessions of node-b validate on node-c %.2f ms after kill -9 "
                "(node-a too: %s)\n",
                round + 1, owned.size(), took.back(), other_too ? "yes" : "no");
    cluster.restart(1);
    if (!test::eventually([&] { return cluster.converged(); }, seconds(30)))
      return 1;
  }
  std::sort(took.begin(), took.end());
  std::printf("failover: median %.2f ms, min %.2f, max %.2f over %d kills\n", took[took.size() / 2],
              took.front(), took.back(), rounds);
  return 0;
}

double metric(uint16_t monitor_port, const std::string& series) {
  auto text = test::http_get(monitor_port, "/metrics");
  auto at = text.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
}

int handover(uint64_t sessions) {
  test::test_cluster cluster(2, "[testing]\npopulate = true\n");
  if (!test::eventually([&] { return cluster.converged(); }, seconds(30)))
    return 1;
  auto admin = net::client::connect("127.0.0.1", cluster.client_port(0), seconds(30));
  auto token = admin.login("ops", test::ops_password).as<net::login_reply>().token;
  for (uint64_t done = 0; done < sessions;) {
    uint64_t n = std::min<uint64_t>(100000, sessions - done);
    auto r = admin.call(net::debug_populate_request{0, token, n}, seconds(120));
    if (!r.ok) {
      std::fprintf(stderr, "populate failed: %s %s\n", r.error.c_str(), r.message.c_str());
      return 1;
    }
    done += r.as<net::debug_populate_reply>().created;
  }
  std::printf("node-a and node-b hold %.0f and %.0f sessions\n",
              metric(cluster.monitor_port(0), "castellan_sessions_active"),
              metric(cluster.monitor_port(1), "castellan_sessions_active"));
  auto t0 = steady_clock::now();
  cluster.start(2);
  double started = ms_since(t0);
  test::eventually([&] { return cluster.state_seen(2, "node-c") == net::member_state::up; }, seconds(120));
  double up = ms_since(t0);
  const std::string received =
      "castellan_cluster_handover_records_total{direction=\"received\"}";
  double records = metric(cluster.monitor_port(2), received);
  test::eventually([&] {
    return metric(cluster.monitor_port(2), "castellan_sessions_active") >= records;
  }, seconds(120));
  double applied = ms_since(t0);
  std::printf("handover: node-c serving clients %.0f ms after exec, up (owning) after %.0f ms, "
              "%.0f sessions received and in its tables after %.0f ms\n",
              started, up, metric(cluster.monitor_port(2), "castellan_sessions_active"), applied);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "failover")
    return failover(argc > 2 ? std::stoi(argv[2]) : 10);
  if (mode == "handover")
    return handover(argc > 2 ? std::stoull(argv[2]) : 100000);
  std::fprintf(stderr, "usage: cluster_bench failover [ROUNDS] | handover [SESSIONS]\n");
  return 2;
}
