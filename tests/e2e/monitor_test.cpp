// What the monitor actor tells operators: the metrics_summary op and
// `authctl status` (rates, latency, restarts, mailboxes), latency histograms
// and mailbox depths on /metrics, and request metrics that can be turned off.
#include <ctime>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/authd_process.hpp"

namespace castellan::test {
namespace {

using namespace std::chrono_literals;

const std::string fast_monitor = "summary_interval_ms = 100\n";

nlohmann::json summary_of(net::client& c) {
  auto r = c.call(net::metrics_summary_request{});
  EXPECT_TRUE(r.ok) << r.error;
  auto s = r.as<net::metrics_summary_reply>();
  nlohmann::json ops = nlohmann::json::object();
  for (auto& o : s.ops)
    ops[o.op] = {{"total", o.total}, {"rate", o.rate_per_s}, {"errors", o.error_ratio},
                 {"p50_ms", o.p50_ms}, {"p99_ms", o.p99_ms}};
  nlohmann::json actors = nlohmann::json::object();
  for (auto& a : s.actors)
    actors[a.kind] = {{"restarts", a.restarts}, {"mailbox", a.mailbox_depth}};
  return {{"ready", s.ready}, {"sessions", s.sessions_active}, {"ops", ops}, {"actors", actors}};
}

TEST(Monitor, MetricsSummaryReportsRatesLatencyAndActors) {
  authd_process node("", "", true, fast_monitor);
  auto c = node.connect();
  auto token = c.login("alice", alice_password).as<net::login_reply>().token;
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(c.validate(token).ok);
  c.validate(std::string(50, 'A'));  // refused at the door: an error result
  nlohmann::json s;
  ASSERT_TRUE(eventually([&] {
    s = summary_of(c);
    return s["ops"].contains("validate") && s["ops"]["validate"]["total"] == 201;
  }, 10s)) << s.dump();
  EXPECT_TRUE(s["ready"].get<bool>());
  EXPECT_EQ(s["sessions"], 1);
  EXPECT_EQ(s["ops"]["login"]["total"], 1);
  // Quantiles cover the last interval only: log in again and catch the
  // summary of the interval that holds it (each stays up for a whole interval).
  // On a starved machine the poll may miss that interval: then log in again
  // (at most every 300 ms, three intervals).
  auto last_login = std::chrono::steady_clock::now() - 1s;
  EXPECT_TRUE(eventually([&] {
    s = summary_of(c);
    if (s["ops"]["login"]["p50_ms"].get<double>() > 0)
      return true;
    if (std::chrono::steady_clock::now() - last_login > 300ms) {
      c.login("alice", alice_password);
      last_login = std::chrono::steady_clock::now();
    }
    return false;
  }, 10s)) << s.dump();
  for (auto kind : {"session_shard", "limiter_shard", "audit_writer", "front_door_listener",
                    "monitor"})
    EXPECT_TRUE(s["actors"].contains(kind)) << kind;
}

TEST(Monitor, AuthctlStatusShowsTheSummaryAndExitsZeroWhenReady) {
  authd_process node("", "", true, fast_monitor);
  auto c = node.connect();
  auto token = c.login("alice", alice_password).as<net::login_reply>().token;
  for (int i = 0; i < 50; ++i)
    c.validate(token);
  ASSERT_TRUE(eventually([&] { return summary_of(c)["ops"].contains("validate"); }, 10s));
  auto port = std::to_string(node.port());
  auto text = run_program({CASTELLAN_AUTHCTL, "--port", port, "status"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("node test-node: ready"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("validate"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("session_shard"), std::string::npos) << text.out;
  auto json = run_program({CASTELLAN_AUTHCTL, "--port", port, "--json", "status"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto body = nlohmann::json::parse(json.out);
  EXPECT_EQ(body.at("node"), "test-node");
  EXPECT_EQ(body.at("sessions_active"), 1);
  EXPECT_FALSE(body.at("ops").empty());
}

TEST(Monitor, MetricsCarryLatencyByOpAndMailboxDepthByActor) {
  authd_process node;
  auto c = node.connect();
  auto token = c.login("alice", alice_password).as<net::login_reply>().token;
  for (int i = 0; i < 20; ++i)
    c.validate(token);
  auto body = http_get(node.monitor_port(), "/metrics");
  for (auto series : {"castellan_request_duration_seconds_bucket{op=\"validate\",le=\"+Inf\"} 20",
                      "castellan_request_duration_seconds_count{op=\"login\"} 1",
                      "castellan_requests_total{op=\"login\",result=\"ok\"} 1",
                      "castellan_actor_mailbox_depth{instance=\"0\",kind=\"session_shard\"}",
                      "castellan_actor_mailbox_depth{instance=\"0\",kind=\"limiter_shard\"}",
                      "castellan_actor_mailbox_depth{instance=\"0\",kind=\"audit_writer\"}"})
    EXPECT_NE(body.find(series), std::string::npos) << series << "\n" << body;
}

TEST(Monitor, RequestMetricsCanBeTurnedOff) {
  authd_process node("", "", true, "request_metrics = false\n" + fast_monitor);
  auto c = node.connect();
  c.ping();
  auto body = http_get(node.monitor_port(), "/metrics");
  EXPECT_EQ(body.find("castellan_requests_total"), std::string::npos) << body;
  EXPECT_NE(body.find("castellan_connections_open"), std::string::npos) << body;
  EXPECT_TRUE(summary_of(c)["ops"].empty());
}

// What any Prometheus client exports about its process, and which build and
// whether ready, read from /proc at scrape time.
TEST(Monitor, MetricsCarryProcessFiguresBuildInfoAndReadiness) {
  authd_process node;
  auto port = node.monitor_port();
  EXPECT_GT(metric(port, "process_resident_memory_bytes"), 1e6);
  EXPECT_GT(metric(port, "process_virtual_memory_bytes"), metric(port, "process_resident_memory_bytes"));
  EXPECT_GE(metric(port, "process_open_fds"), 3);
  EXPECT_GT(metric(port, "process_max_fds"), metric(port, "process_open_fds"));
  EXPECT_GE(metric(port, "process_cpu_seconds_total"), 0);
  auto started = metric(port, "process_start_time_seconds");
  auto now = static_cast<double>(std::time(nullptr));
  EXPECT_GT(started, now - 120);
  EXPECT_LE(started, now + 1);
  EXPECT_EQ(metric(port, "castellan_ready"), 1);
  EXPECT_NE(http_get(port, "/metrics").find("castellan_build_info{"), std::string::npos);
  EXPECT_EQ(metric(port, "castellan_logins_pending"), 0);
}

}  // namespace
}  // namespace castellan::test
