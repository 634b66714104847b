// TLS between members ([cluster.tls]): real authd processes with a cluster
// CA made at test time by the openssl command (tests/e2e/test_pki.hpp). The
// cluster port is probed with `openssl s_client`, as an operator would.
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "net/messages.hpp"
#include "tests/cluster/test_cluster.hpp"
#include "tests/e2e/test_pki.hpp"

namespace castellan::test {
namespace {

using namespace std::chrono_literals;
using net::member_state;

// A cluster CA issuing node-a ... node-e, and a rogue CA beside it.
struct cluster_pki {
  test_pki pki{fresh_test_dir("cluster-pki")};
  cluster_pki() {
    pki.make_ca("cluster-ca");
    pki.make_ca("rogue-ca");
    for (char c = 'a'; c <= 'e'; ++c) {
      std::string name = std::string("node-") + c;
      pki.issue(name, "cluster-ca", name, "DNS:" + name);
    }
  }
  // [cluster.tls] for member `cert` ("{member}": each member its own).
  std::string toml(const std::string& cert = "{member}", const std::string& ca = "cluster-ca") const {
    auto dir = pki.dir().string();
    return "[cluster.tls]\ncert_file = \"" + dir + "/" + cert + ".pem\"\nkey_file = \"" + dir + "/" +
           cert + ".key\"\nca_file = \"" + pki.pem(ca) + "\"\nreload_interval_ms = 200\n";
  }
};

// `openssl s_client` against a cluster port, presenting `cert` (none: "").
// In TLS 1.3 the server checks the client's certificate after the client
// thinks the handshake is done, so a probe expecting a refusal reads on
// (-ign_eof) until the alert comes.
run_result probe(const test_pki& pki, uint16_t port, const std::string& cert,
                 bool expect_refusal = false) {
  std::vector<std::string> argv{"/usr/bin/openssl", "s_client", "-brief", "-connect",
                                "127.0.0.1:" + std::to_string(port), "-CAfile",
                                pki.pem("cluster-ca"), "-verify_return_error"};
  if (expect_refusal)
    argv.push_back("-ign_eof");
  if (!cert.empty())
    argv.insert(argv.end(), {"-cert", pki.pem(cert), "-key", pki.key(cert)});
  return run_program(argv, "", 20s);
}

std::string login(uint16_t port) {
  auto c = net::client::connect("127.0.0.1", port, 5s);
  auto r = c.login("alice", alice_password);
  if (!r.ok)
    throw std::runtime_error("login failed: " + r.error + ": " + r.message);
  return r.as<net::login_reply>().token;
}

bool validates_everywhere(test_cluster& cluster, const std::string& token) {
  for (size_t i = 0; i < cluster.size(); ++i) {
    auto c = net::client::connect("127.0.0.1", cluster.client_port(i), 5s);
    if (!c.validate(token).ok)
      return false;
  }
  return true;
}

TEST(ClusterTls, MembersFormAClusterOverTlsAndServeEachOthersSessions) {
  cluster_pki ca;
  test_cluster cluster(3, ca.toml());
  ASSERT_TRUE(eventually([&] { return cluster.converged(); }, 20s))
      << cluster.cluster_of(0).dump() << "\n" << cluster.node(0).stderr_text();
  for (size_t i = 0; i < 3; ++i)
    EXPECT_NE(cluster.node(i).stderr_text().find(" (TLS), seeds"), std::string::npos);
  for (int round = 0; round < 6; ++round) {  // sessions land on every owner
    auto token = login(cluster.client_port(round % 3));
    EXPECT_TRUE(validates_everywhere(cluster, token)) << "round " << round;
  }
  // The cluster port speaks TLS 1.3 and shows the member's certificate...
  auto seen = probe(ca.pki, cluster.cluster_port(1), "node-a");
  EXPECT_NE(seen.err.find("Protocol version: TLSv1.3"), std::string::npos) << seen.err;
  EXPECT_NE(seen.err.find("CN = node-b"), std::string::npos) << seen.err;
  EXPECT_NE(seen.err.find("Verification: OK"), std::string::npos) << seen.err;
  // ...and an operator sees when it expires (issued for 30 days).
  auto expiry = metric(cluster.monitor_port(0),
                         "castellan_cluster_tls_certificate_expiry_timestamp_seconds");
  auto now = static_cast<double>(std::time(nullptr));
  EXPECT_GT(expiry, now + 29 * 86400.0);
  EXPECT_LT(expiry, now + 31 * 86400.0);
}

// Knowing the secret is not enough: a node without a certificate from the
// cluster CA, or speaking plaintext, never gets a member's hello through.
TEST(ClusterTls, ANodeWithoutACertificateFromTheClusterCaCannotJoin) {
  cluster_pki ca;
  ca.pki.issue("rogue-c", "rogue-ca", "node-c", "DNS:node-c");
  test_cluster cluster(2, ca.toml());
  ASSERT_TRUE(eventually([&] { return cluster.converged(); }, 20s));
  auto token = login(cluster.client_port(0));
  struct stranger {
    const char* what;
    std::string toml;
  };
  for (auto& s : {stranger{"a certificate from another CA", ca.toml("rogue-c", "rogue-ca")},
                  stranger{"no TLS at all", ""}}) {
    SCOPED_TRACE(s.what);
    auto intruder = cluster.start_stranger(2, s.toml);
    // Several reconnect intervals, dialling and dialled (it sits at a seed
    // address): nobody lets it in.
    std::this_thread::sleep_for(4s);
    for (size_t i = 0; i < 2; ++i) {
      auto view = cluster.cluster_of(i);
      ASSERT_EQ(view["members"].size(), 2u) << view.dump();
      EXPECT_TRUE(cluster.state_seen(i, "node-a") == member_state::up);
      EXPECT_TRUE(cluster.state_seen(i, "node-b") == member_state::up);
      EXPECT_TRUE(cluster.node(i).stderr_text().find("authenticated node-c") == std::string::npos);
    }
    auto seen = http_get(intruder->monitor_port(), "/cluster");
    auto view = nlohmann::json::parse(seen.substr(seen.find("\r\n\r\n") + 4));
    EXPECT_EQ(view["members"].size(), 1u) << view.dump();  // it admitted nobody: only itself
    auto c = intruder->connect();
    EXPECT_FALSE(c.validate(token).ok);
    intruder->kill_hard();
  }
  // The cluster port refuses a TLS client without a certificate, or with the
  // rogue one, during the handshake.
  for (auto cert : {"", "rogue-c"}) {
    auto refused = probe(ca.pki, cluster.cluster_port(0), cert, true);
    EXPECT_NE(refused.err.find("alert"), std::string::npos) << cert << ": " << refused.err;
  }
  EXPECT_TRUE(validates_everywhere(cluster, token));
}

// Renewal: a certificate renamed into place is served on the next
// connection, while the members' connections stay up; a renewal whose key
// does not match changes nothing and says why.
TEST(ClusterTls, ARenewedCertificateIsUsedForNewConnections) {
  cluster_pki ca;
  test_cluster cluster(2, ca.toml());
  ASSERT_TRUE(eventually([&] { return cluster.converged(); }, 20s));
  auto token = login(cluster.client_port(0));
  auto reloads = [&](const char* result) {
    return metric(cluster.monitor_port(0),
                    std::string("castellan_cluster_tls_reloads_total{result=\"") + result + "\"}");
  };
  // Renewed, with a new subject to tell the two apart.
  ca.pki.issue("renewed-a", "cluster-ca", "node-a-renewed", "DNS:node-a");
  auto dir = ca.pki.dir();
  std::filesystem::copy_file(dir / "renewed-a.key", dir / "node-a.key.new");
  std::filesystem::copy_file(dir / "renewed-a.pem", dir / "node-a.pem.new");
  std::filesystem::rename(dir / "node-a.key.new", dir / "node-a.key");
  std::filesystem::rename(dir / "node-a.pem.new", dir / "node-a.pem");
  ASSERT_TRUE(eventually([&] {
    return probe(ca.pki, cluster.cluster_port(0), "node-b").err.find("CN = node-a-renewed") !=
           std::string::npos;
  }, 10s)) << cluster.node(0).stderr_text();
  EXPECT_GE(reloads("ok"), 1);
  EXPECT_TRUE(validates_everywhere(cluster, token));
  EXPECT_TRUE(cluster.converged());
  // A certificate whose key is another one: refused, the renewed one stays.
  ca.pki.issue("mismatch", "cluster-ca", "node-a-mismatch", "DNS:node-a");
  std::filesystem::copy_file(dir / "mismatch.pem", dir / "node-a.pem.new");
  std::filesystem::rename(dir / "node-a.pem.new", dir / "node-a.pem");
  ASSERT_TRUE(eventually([&] { return reloads("failed") >= 1; }, 10s));
  EXPECT_NE(cluster.node(0).stderr_text().find(
                "cluster.tls.key_file (" + (dir / "node-a.key").string() +
                "): is not the key of cluster.tls.cert_file's certificate"),
            std::string::npos)
      << cluster.node(0).stderr_text();
  auto still = probe(ca.pki, cluster.cluster_port(0), "node-b");
  EXPECT_NE(still.err.find("CN = node-a-renewed"), std::string::npos) << still.err;
  // New member connections still form: node-b restarted dials node-a again.
  cluster.kill_hard(1);
  cluster.restart(1);
  ASSERT_TRUE(eventually([&] { return cluster.converged(); }, 20s))
      << cluster.cluster_of(0).dump();
  EXPECT_TRUE(validates_everywhere(cluster, token));
  EXPECT_EQ(cluster.node(0).stderr_text().find("BEGIN"), std::string::npos);  // no PEM in logs
}

// A member whose files the cluster would refuse does not start half-way:
// it exits 1 naming the key, before it listens anywhere.
TEST(ClusterTls, AMemberWithFilesTheClusterWouldRefuseExitsNamingTheKey) {
  cluster_pki ca;
  ca.pki.issue("rogue-a", "rogue-ca", "node-a", "DNS:node-a");
  ca.pki.issue("expired-a", "cluster-ca", "node-a", "DNS:node-a", -1);
  auto dir = fresh_test_dir("cluster-tls-refused");
  struct bad {
    std::string tls;
    std::string names;
  };
  auto d = ca.pki.dir().string();
  for (auto& b : {bad{ca.toml("rogue-a"), "cluster.tls.cert_file"},
                  bad{ca.toml("expired-a"), "certificate has expired"},
                  bad{"[cluster.tls]\ncert_file = \"" + d + "/node-a.pem\"\nkey_file = \"" + d +
                          "/node-b.key\"\nca_file = \"" + ca.pki.pem("cluster-ca") + "\"\n",
                      "cluster.tls.key_file"},
                  bad{"[cluster.tls]\ncert_file = \"" + d + "/node-a.pem\"\nkey_file = \"" + d +
                          "/node-a.key\"\nca_file = \"" + d + "/missing.pem\"\n",
                      "cluster.tls.ca_file"}}) {
    auto cfg = (dir / "node.toml").string();
    std::ofstream(cfg) << "[node]\nname = \"node-a\"\ndata_dir = \"" << (dir / "data").string()
                       << "\"\n[server]\nport = 24998\n[monitor]\nenabled = false\n"
                       << "[users]\nargon2_memory_kib = 64\nargon2_iterations = 1\n"
                       << "[cluster]\nenabled = true\nport = 24999\nsecret = \"test-cluster-secret-0123\"\n"
                       << b.tls;
    auto r = run_program({CASTELLAN_AUTHD, "--config", cfg}, "", 20s);
    EXPECT_EQ(r.exit_code, 1) << b.names << ": " << r.err;
    EXPECT_NE(r.err.find(b.names), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("BEGIN"), std::string::npos) << r.err;  // no PEM quoted
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace castellan::test
