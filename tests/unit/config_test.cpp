// Config: every key has a default; unknown keys and bad values stop start-up
// with a message naming the file and the key.
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace castellan::config {
namespace {

std::string error_of(const std::string& text) {
  try {
    parse(text, "test.toml");
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

TEST(Config, EmptyFileGivesTheDefaults) {
  auto s = parse("", "test.toml");
  EXPECT_EQ(s.server.port, 7400);
  EXPECT_EQ(s.server.max_frame_bytes, 65536u);
  EXPECT_EQ(s.users.argon2_memory_kib, 19456u);
  EXPECT_EQ(s.users.argon2_iterations, 2u);
  EXPECT_EQ(s.users_file(), "castellan-data/users.toml");
  EXPECT_EQ(s.key_file(), "castellan-data/keys.json");
}

TEST(Config, ValuesAreRead) {
  auto s = parse("[server]\nport = 9000\nio_threads = 2\n[actors]\nsession_shards = 8\n"
                 "[users]\nfile = \"/etc/castellan/users.toml\"\n[monitor]\nenabled = false\n",
                 "test.toml");
  EXPECT_EQ(s.server.port, 9000);
  EXPECT_EQ(s.server.io_threads, 2u);
  EXPECT_EQ(s.actors.session_shards, 8u);
  EXPECT_EQ(s.users_file(), "/etc/castellan/users.toml");
  EXPECT_FALSE(s.monitor.enabled);
}

TEST(Config, UnknownKeyNamesFileAndKey) {
  auto e = error_of("[server]\nprot = 1\n");
  EXPECT_NE(e.find("test.toml"), std::string::npos) << e;
  EXPECT_NE(e.find("server.prot"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key"), std::string::npos) << e;
  EXPECT_NE(error_of("[sever]\nport = 1\n").find("sever"), std::string::npos);
}

TEST(Config, BadValuesNameTheKey) {
  EXPECT_NE(error_of("[server]\nport = 70000\n").find("server.port"), std::string::npos);
  EXPECT_NE(error_of("[server]\nport = \"x\"\n").find("must be an integer"), std::string::npos);
  EXPECT_NE(error_of("[actors]\nsession_shards = 0\n").find("actors.session_shards"),
            std::string::npos);
  EXPECT_NE(error_of("[log]\nlevel = \"loud\"\n").find("must be one of"), std::string::npos);
  EXPECT_NE(error_of("[monitor]\nenabled = 1\n").find("true or false"), std::string::npos);
  EXPECT_NE(error_of("[server]\nhost = \"localhost\"\n").find("server.host"), std::string::npos);
  EXPECT_EQ(error_of("[server]\nhost = \"::1\"\n"), "");
  EXPECT_NE(error_of("[sessions]\nttl_s = 100\nmax_lifetime_s = 10\n").find("max_lifetime_s"),
            std::string::npos);
  // A float beyond any integer (found by fuzz_config: converting it was
  // undefined behaviour; its seed replays under clang's UBSan).
  EXPECT_NE(error_of("[cluster]\ndown_after_ms = 99E20\n").find("must be an integer"),
            std::string::npos);
  EXPECT_NE(error_of("[server]\nport = 7400.0\n").find("must be an integer"), std::string::npos);
}

// A node-wide bound on what partial frames may hold (issue 13, item 6); the
// largest frame must fit in it, or it could never arrive.
TEST(Config, ReadBufferBudgetIsBoundedAndHoldsTheLargestFrame) {
  EXPECT_EQ(parse("", "test.toml").server.read_buffer_budget_bytes, 64ull << 20);
  EXPECT_EQ(parse("[server]\nread_buffer_budget_bytes = 8589934592\n", "test.toml")
                .server.read_buffer_budget_bytes,
            8ull << 30);
  EXPECT_NE(error_of("[server]\nread_buffer_budget_bytes = 0\n").find("between"),
            std::string::npos);
  EXPECT_NE(error_of("[server]\nread_buffer_budget_bytes = 2199023255553\n").find("between"),
            std::string::npos);
  auto e = error_of("[server]\nmax_frame_bytes = 1048576\nread_buffer_budget_bytes = 1048575\n");
  EXPECT_NE(e.find("server.read_buffer_budget_bytes"), std::string::npos) << e;
  EXPECT_NE(e.find("max_frame_bytes"), std::string::npos) << e;
  EXPECT_EQ(error_of("[server]\nmax_frame_bytes = 1048576\nread_buffer_budget_bytes = 1048576\n"),
            "");
}

TEST(Config, NestedLimiterPoliciesAreRead) {
  auto s = parse("[limiter]\nshards = 3\n[limiter.user]\nrate_per_s = 2.5\nlockout_after = 20\n"
                 "[limiter.ip]\nburst = 500\n[audit]\nretain_segments = 10\n",
                 "test.toml");
  EXPECT_EQ(s.limiter.shards, 3u);
  EXPECT_DOUBLE_EQ(s.limiter.user.rate_per_s, 2.5);
  EXPECT_EQ(s.limiter.user.lockout_after, 20u);
  EXPECT_EQ(s.limiter.ip.burst, 500u);
  EXPECT_EQ(s.limiter.user_ip.burst, 10u);  // default kept
  EXPECT_EQ(s.audit.retain_segments, 10u);
  EXPECT_EQ(s.audit_dir(), "castellan-data/audit");
  EXPECT_NE(error_of("[limiter.users]\nburst = 1\n").find("limiter.users"), std::string::npos);
  EXPECT_NE(error_of("[limiter.user]\nburts = 1\n").find("limiter.user.burts"), std::string::npos);
  EXPECT_NE(error_of("[limiter.user]\nrate_per_s = \"fast\"\n").find("must be a number"),
            std::string::npos);
}

TEST(Config, SyntaxErrorsNameFileAndLine) {
  auto e = error_of("[server\nport = 1\n");
  EXPECT_NE(e.find("test.toml:1"), std::string::npos) << e;
}

TEST(ConfigTls, OffByDefaultReadWhenSetAndHalfASetIsRefused) {
  node_settings d;
  EXPECT_FALSE(d.server.tls.enabled());
  auto s = parse("[server.tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n"
                 "client_ca_file = \"ca.pem\"\nmin_version = \"1.2\"\n", "test.toml");
  EXPECT_TRUE(s.server.tls.enabled());
  EXPECT_EQ(s.server.tls.client_ca_file, "ca.pem");
  EXPECT_EQ(s.server.tls.min_version, "1.2");
  EXPECT_NE(error_of("[server.tls]\ncert_file = \"c.pem\"\n").find("server.tls.key_file"),
            std::string::npos);
  EXPECT_NE(error_of("[server.tls]\nclient_ca_file = \"ca.pem\"\n").find("server.tls.client_ca_file"),
            std::string::npos);
  EXPECT_NE(error_of("[server.tls]\nmin_version = \"1.1\"\n").find("must be one of"), std::string::npos);
  // Rendered and parsed back, the section round-trips.
  auto back = parse(render_toml(s), "rendered");
  EXPECT_EQ(back.server.tls.cert_file, "c.pem");
  EXPECT_EQ(back.server.tls.min_version, "1.2");
}

TEST(ConfigTls, OnlyLoopbackAddressesCountAsLoopback) {
  EXPECT_TRUE(is_loopback_address("127.0.0.1"));
  EXPECT_TRUE(is_loopback_address("127.3.4.5"));
  EXPECT_TRUE(is_loopback_address("::1"));
  EXPECT_FALSE(is_loopback_address("0.0.0.0"));
  EXPECT_FALSE(is_loopback_address("10.0.0.1"));
  EXPECT_FALSE(is_loopback_address("::"));
}

TEST(Config, RenderedDefaultsParseBackToTheDefaults) {
  auto s = parse(default_toml(), "defaults");
  node_settings d;
  EXPECT_EQ(s.server.port, d.server.port);
  EXPECT_EQ(s.sessions.ttl_s, d.sessions.ttl_s);
  EXPECT_EQ(s.users.max_pending_logins, d.users.max_pending_logins);
  EXPECT_EQ(s.monitor.port, d.monitor.port);
  EXPECT_EQ(s.actors.scheduler_policy, d.actors.scheduler_policy);
}

}  // namespace
}  // namespace castellan::config

namespace castellan::config {
namespace {

TEST(ConfigCluster, OffByDefaultAndReadWhenOn) {
  auto s = parse("", "test.toml");
  EXPECT_FALSE(s.cluster.enabled);
  EXPECT_EQ(s.cluster.replicas, 2u);
  s = parse("[server]\nport = 7411\n[cluster]\nenabled = true\nport = 7511\n"
            "seeds = [\"127.0.0.1:7512\", \"10.0.0.2:7500\"]\nsecret = \"0123456789abcdef\"\n",
            "test.toml");
  EXPECT_EQ(s.cluster.seeds.size(), 2u);
  EXPECT_EQ(s.cluster_secret(), "0123456789abcdef");
  EXPECT_EQ(parse(render_toml(s), "again.toml").cluster.seeds, s.cluster.seeds);
}

TEST(ConfigCluster, BadClusterKeysAreNamedAndTheSecretIsNeverQuoted) {
  const std::string on = "[server]\nport = 7411\n[cluster]\nenabled = true\nport = 7511\n";
  auto short_secret = error_of(on + "secret = \"tiny-secret\"\n");
  EXPECT_NE(short_secret.find("cluster.secret"), std::string::npos) << short_secret;
  EXPECT_EQ(short_secret.find("tiny-secret"), std::string::npos) << short_secret;
  EXPECT_NE(error_of(on + "secret = \"0123456789abcdef\"\nseeds = [\"nohost\"]\n").find("cluster.seeds"),
            std::string::npos);
  EXPECT_NE(error_of(on + "secret = \"0123456789abcdef\"\nseeds = [7]\n").find("array of strings"),
            std::string::npos);
  EXPECT_NE(error_of("[cluster]\nheartbeat_interval_ms = 500\nsuspect_after_ms = 400\n")
                .find("cluster.suspect_after_ms"),
            std::string::npos);
  // Members tell each other their client address: it cannot be "any port".
  EXPECT_NE(error_of("[server]\nport = 0\n[cluster]\nenabled = true\nsecret = \"0123456789abcdef\"\n"
                     "port = 7511\n")
                .find("server.port"),
            std::string::npos);
}

}  // namespace
}  // namespace castellan::config

// -- SIGHUP: what a reload says took effect and what needs a restart ----------

namespace castellan::config {
namespace {

using sections = std::vector<std::string>;

sections changed_by(const std::string& toml) {
  return changed_sections(node_settings{}, parse(toml, "reloaded.toml"));
}

TEST(ConfigReload, AnUnchangedFileChangesNoSection) {
  EXPECT_EQ(changed_sections(node_settings{}, parse(default_toml(), "same.toml")), sections{});
}

TEST(ConfigReload, EverySectionThatNeedsARestartIsNamedWhenItChanges) {
  EXPECT_EQ(changed_by("[node]\nname = \"other\"\n"), sections{"node"});
  EXPECT_EQ(changed_by("[server]\nio_threads = 7\n"), sections{"server"});
  EXPECT_EQ(changed_by("[actors]\nsession_shards = 3\n"), sections{"actors"});
  EXPECT_EQ(changed_by("[sessions]\nttl_s = 5\n"), sections{"sessions"});
  EXPECT_EQ(changed_by("[tokens]\nrotation_grace_s = 5\n"), sections{"tokens"});
  EXPECT_EQ(changed_by("[users]\nmax_pending_logins = 5\n"), sections{"users"});
  EXPECT_EQ(changed_by("[audit]\nretain_segments = 5\n"), sections{"audit"});
  EXPECT_EQ(changed_by("[snapshots]\nkeep = 5\n"), sections{"snapshots"});
  EXPECT_EQ(changed_by("[monitor]\nsummary_interval_ms = 500\n"), sections{"monitor"});
  EXPECT_EQ(changed_by("[cluster]\nreplicas = 3\n"), sections{"cluster"});
}

TEST(ConfigReload, SupervisionAndTestingChangesAreNamedForARestart) {
  EXPECT_EQ(changed_by("[supervision]\nmax_restarts = 2\n"), sections{"supervision"});
  EXPECT_EQ(changed_by("[supervision]\nroot_period_ms = 1000\n"), sections{"supervision"});
  EXPECT_EQ(changed_by("[testing]\nfault_injection = true\n"), sections{"testing"});
  EXPECT_EQ(changed_by("[testing]\npopulate = true\n"), sections{"testing"});
  EXPECT_EQ(changed_by("[sessions]\nttl_s = 5\n[supervision]\nperiod_ms = 5\n"
                       "[testing]\npopulate = true\n"),
            (sections{"sessions", "supervision", "testing"}));
}

TEST(ConfigReload, LimiterAndLogReloadLiveSoTheyNeverNeedARestart) {
  EXPECT_EQ(changed_by("[limiter]\nmax_keys = 5000\n[limiter.ip]\nburst = 3\n"
                       "[log]\nlevel = \"debug\"\n"),
            sections{});
}

}  // namespace
}  // namespace castellan::config
