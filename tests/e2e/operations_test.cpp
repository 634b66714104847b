// What an operator does with a node: start it (with a bad config, with no
// users file), watch /metrics, hit its limits, drive it with authctl.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "net/member_state.hpp"
#include "tests/e2e/authd_process.hpp"

namespace castellan::test {
namespace {

using namespace std::chrono_literals;

TEST(Startup, UnknownConfigKeyStopsStartupNamingKeyAndFile) {
  auto dir = fresh_test_dir("badcfg");
  auto cfg = (dir / "bad.toml").string();
  std::ofstream(cfg) << "[server]\nport = 0\nmax_frame_byte = 10\n";
  auto r = run_program({CASTELLAN_AUTHD, "--config", cfg});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.toml"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("server.max_frame_byte"), std::string::npos) << r.err;
}

TEST(Startup, BadValueStopsStartup) {
  auto dir = fresh_test_dir("badval");
  auto cfg = (dir / "bad.toml").string();
  std::ofstream(cfg) << "[actors]\nsession_shards = -3\n";
  auto r = run_program({CASTELLAN_AUTHD, "--config", cfg});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("actors.session_shards"), std::string::npos) << r.err;
}

TEST(Startup, PrintedDefaultConfigIsAValidConfig) {
  auto dir = fresh_test_dir("defaults");
  auto r = run_program({CASTELLAN_AUTHD, "--print-default-config"});
  ASSERT_EQ(r.exit_code, 0);
  std::ofstream(dir / "d.toml") << r.out;
  EXPECT_NE(r.out.find("max_frame_bytes = 65536"), std::string::npos);
  auto check = run_program({CASTELLAN_AUTHD, "--config", (dir / "d.toml").string(), "--check-config"});
  EXPECT_EQ(check.exit_code, 0) << check.err;
}

TEST(Startup, FirstStartCreatesAnAdminWhosePasswordIsPrintedOnce) {
  std::string password;
  {
    authd_process node("", "", /*provision_users=*/false);
    auto out = node.stdout_text();
    auto at = out.find("password: ");
    ASSERT_NE(at, std::string::npos) << out;
    password = out.substr(at + 10, out.find('\n', at) - at - 10);
    auto c = node.connect();
    auto r = c.login("admin", password);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.as<net::login_reply>().roles, std::vector<std::string>{"admin"});
    EXPECT_EQ(node.stderr_text().find(password), std::string::npos);  // never logged
    EXPECT_EQ(node.stop(), 0);
  }
}

TEST(Startup, APortInUseFailsTheStartCleanly) {
  authd_process first;
  auto dir = fresh_test_dir("busy");
  auto cfg = (dir / "busy.toml").string();
  std::ofstream(cfg) << "[node]\ndata_dir = \"" << (dir / "data").string() << "\"\n"
                     << "[server]\nport = " << first.port() << "\n[monitor]\nenabled = false\n"
                     << "[users]\nargon2_memory_kib = 64\nargon2_iterations = 1\n";
  auto r = run_program({CASTELLAN_AUTHD, "--config", cfg}, "", std::chrono::seconds(20));
  EXPECT_EQ(r.exit_code, 1) << r.err;  // not a hang (-1), not a crash
  EXPECT_NE(r.err.find("cannot start"), std::string::npos) << r.err;
}

TEST(Operations, SigtermStopsCleanly) {
  authd_process node;
  EXPECT_TRUE(node.connect().ping().ok);
  EXPECT_EQ(node.stop(), 0);
}

TEST(Operations, MetricsEndpointCountsRequests) {
  authd_process node;
  auto c = node.connect();
  for (int i = 0; i < 3; ++i)
    c.ping();
  c.validate(std::string(50, 'A'));
  auto body = http_get(node.monitor_port(), "/metrics");
  EXPECT_NE(body.find("castellan_requests_total{op=\"ping\",result=\"ok\"} 3"), std::string::npos)
      << body;
  EXPECT_NE(body.find("castellan_requests_total{op=\"validate\",result=\"invalid_token\"} 1"),
            std::string::npos) << body;
  EXPECT_NE(body.find("castellan_request_duration_seconds_count{op=\"ping\"} 3"), std::string::npos)
      << body;
  EXPECT_NE(body.find("castellan_tokens_refused_total 1"), std::string::npos) << body;
  EXPECT_NE(body.find("castellan_connections_open 1"), std::string::npos) << body;
}

TEST(Monitor, MetricsPassPromtoolCheck) {
  authd_process node;
  auto c = node.connect();
  auto token = c.login("alice", alice_password).as<net::login_reply>().token;
  c.validate(token);
  c.login("alice", "wrong");
  c.logout(token);
  auto response = http_get(node.monitor_port(), "/metrics");
  auto body = response.substr(response.find("\r\n\r\n") + 4);
  for (auto family : {"castellan_requests_total", "castellan_audit_records_total",
                      "castellan_audit_commit_seconds_bucket", "castellan_sessions_active",
                      "castellan_sessions_ended_total{reason=\"logout\"} 1",
                      "castellan_limiter_rejections_total", "castellan_connections_open"})
    EXPECT_NE(body.find(family), std::string::npos) << family;
  auto check = run_program({"/usr/bin/promtool", "check", "metrics"}, body);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

TEST(Monitor, ExampleDashboardAndAlertsUseRealMetrics) {
  const std::string examples = CASTELLAN_SOURCE_DIR "/examples/";
  EXPECT_EQ(run_program({"/usr/bin/promtool", "check", "config", examples + "prometheus.yml"}).exit_code, 0);
  EXPECT_EQ(run_program({"/usr/bin/promtool", "check", "rules", examples + "castellan-alerts.yml"}).exit_code, 0);
  authd_process node;
  node.connect().ping();
  auto metrics = http_get(node.monitor_port(), "/metrics");
  std::ifstream dash(examples + "grafana-dashboard.json"), alerts(examples + "castellan-alerts.yml");
  std::string text((std::istreambuf_iterator<char>(dash)), {});
  text.append((std::istreambuf_iterator<char>(alerts)), {});
  auto dashboard = nlohmann::json::parse(std::ifstream(examples + "grafana-dashboard.json"));
  EXPECT_GE(dashboard.at("panels").size(), 6u);
  size_t checked = 0;
  for (size_t at = text.find("castellan_"); at != std::string::npos; at = text.find("castellan_", at + 1)) {
    size_t end = at;
    while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_'))
      ++end;
    auto name = text.substr(at, end - at);
    if (name == "castellan_" || text.compare(at - 1, 1, "\"") == 0)
      continue;  // the dashboard's uid / tag
    EXPECT_NE(metrics.find("\n" + name), std::string::npos) << name << " is not exported";
    ++checked;
    at = end;
  }
  EXPECT_GT(checked, 10u);
}

TEST(Monitor, HealthAndClusterEndpoints) {
  authd_process node;
  auto live = http_get(node.monitor_port(), "/health/live");
  EXPECT_NE(live.find("200 OK"), std::string::npos) << live;
  auto ready = http_get(node.monitor_port(), "/health/ready");
  EXPECT_NE(ready.find("200 OK"), std::string::npos) << ready;
  EXPECT_NE(ready.find("\"status\":\"ready\""), std::string::npos) << ready;
  auto cluster = http_get(node.monitor_port(), "/cluster");
  auto json = nlohmann::json::parse(cluster.substr(cluster.find("\r\n\r\n") + 4));
  ASSERT_EQ(json.at("members").size(), 1u);
  auto& self = json["members"][0];
  EXPECT_EQ(self.at("name"), "test-node");
  EXPECT_EQ(net::member_state_from(self.value("state", "")), net::member_state::up);
  EXPECT_EQ(self.at("address"), "127.0.0.1:" + std::to_string(node.port()));
  EXPECT_NE(http_get(node.monitor_port(), "/nope").find("404"), std::string::npos);
}

TEST(Operations, ConnectionsOverTheCapAreToldWhy) {
  authd_process node("", "max_connections = 2\n");
  auto a = node.connect();
  auto b = node.connect();
  ASSERT_TRUE(a.ping().ok && b.ping().ok);
  auto c = node.connect();
  auto r = c.receive(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error, "unavailable");
  EXPECT_TRUE(a.ping().ok);
}

TEST(Operations, StoppingNodeTellsConnectedClients) {
  authd_process node;
  auto c = node.connect();
  ASSERT_TRUE(c.ping().ok);
  std::thread stopper([&] { node.stop(); });
  auto r = c.receive(10s);
  stopper.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error, "unavailable");
  EXPECT_EQ(r->message, "node shutting down");
}

TEST(Operations, AClientThatNeverReadsItsRepliesIsDisconnected) {
  authd_process node("", "idle_timeout_ms = 500\n");
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(node.port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  std::string ping("\x00\x00\x00\x0d\x82\xa2id\x01\xa2op\xa4ping", 17);
  std::string burst;
  for (int i = 0; i < 1000; ++i)
    burst += ping;
  // Send pings (bounded) and never read a reply.
  auto until = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < until)
    if (::send(fd, burst.data(), burst.size(), MSG_NOSIGNAL) < 0)
      std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(eventually([&] {
    return http_get(node.monitor_port(), "/metrics").find("castellan_connections_open 0") !=
           std::string::npos;
  }, 10s));
  ::close(fd);
  EXPECT_TRUE(node.connect().ping().ok);
}

TEST(Operations, IdleConnectionsAreClosed) {
  authd_process node("", "idle_timeout_ms = 200\n");
  auto c = node.connect();
  ASSERT_TRUE(c.ping().ok);
  EXPECT_TRUE(eventually([&] {
    try {
      c.receive(20ms);
      return c.closed();
    } catch (const net::client_error&) {
      return true;
    }
  }, 5s));
}

// -- authctl -----------------------------------------------------------------

TEST(Authctl, LoginValidateLogoutWithExitCodes) {
  authd_process node;
  auto port = std::to_string(node.port());
  auto login = run_program({CASTELLAN_AUTHCTL, "-p", port, "--json", "--password-stdin", "login",
                            "alice"}, alice_password + "\n");
  ASSERT_EQ(login.exit_code, 0) << login.err;
  auto token = nlohmann::json::parse(login.out).at("token").get<std::string>();
  auto valid = run_program({CASTELLAN_AUTHCTL, "-p", port, "validate", token});
  EXPECT_EQ(valid.exit_code, 0);
  EXPECT_NE(valid.out.find("user: alice"), std::string::npos) << valid.out;
  EXPECT_EQ(run_program({CASTELLAN_AUTHCTL, "-p", port, "logout", "-"}, token + "\n").exit_code, 0);
  auto gone = run_program({CASTELLAN_AUTHCTL, "-p", port, "validate", token});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.err.find("invalid_token"), std::string::npos);
  auto wrong = run_program({CASTELLAN_AUTHCTL, "-p", port, "--password-stdin", "login", "alice"},
                           "nope\n");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("bad_credentials"), std::string::npos);
}

TEST(Authctl, UnreachableNodeIsExitCode3) {
  authd_process node;
  auto port = std::to_string(node.port());
  node.stop();
  auto r = run_program({CASTELLAN_AUTHCTL, "-p", port, "--timeout-ms", "2000", "ping"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
}

TEST(Authctl, UserAddedWithAuthctlCanLogIn) {
  authd_process node;
  auto users = node.users_file();
  auto add = run_program({CASTELLAN_AUTHCTL, "--config", node.config_file(), "--password-stdin",
                          "user", "add", "erin", "--role", "risk"}, "erin-password\n");
  ASSERT_EQ(add.exit_code, 0) << add.err;
  auto list = run_program({CASTELLAN_AUTHCTL, "--users-file", users, "--json", "user", "list"});
  EXPECT_NE(list.out.find("\"erin\""), std::string::npos) << list.out;
  auto c = node.connect();
  EXPECT_TRUE(eventually([&] { return c.login("erin", "erin-password").ok; }, 10s));
  auto dup = run_program({CASTELLAN_AUTHCTL, "--users-file", users, "--password-stdin", "user", "add",
                          "erin"}, "erin-password\n");
  EXPECT_EQ(dup.exit_code, 4);
  auto disable = run_program({CASTELLAN_AUTHCTL, "--users-file", users, "user", "disable", "erin"});
  EXPECT_EQ(disable.exit_code, 0);
  EXPECT_TRUE(eventually([&] { return c.login("erin", "erin-password").error == "forbidden"; }, 10s));
}

TEST(Authctl, HashPasswordPrintsAnArgon2idHash) {
  auto r = run_program({CASTELLAN_AUTHCTL, "--password-stdin", "hash-password"}, "pw\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << r.out;
}

TEST(Authctl, UsageErrorIsExitCode2) {
  EXPECT_EQ(run_program({CASTELLAN_AUTHCTL, "frobnicate"}).exit_code, 2);
}

}  // namespace
}  // namespace castellan::test

namespace castellan::test {
namespace {

TEST(Examples, ExampleConfigIsValid) {
  auto r = run_program({CASTELLAN_AUTHD, "--config", CASTELLAN_SOURCE_DIR "/examples/node.toml",
                        "--check-config"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(Examples, ValidateClientRunsAgainstANode) {
  authd_process node;
  auto r = run_program({CASTELLAN_VALIDATE_CLIENT, "127.0.0.1", std::to_string(node.port()), "alice"},
                       alice_password + "\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("100 validates ok for alice"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace castellan::test
