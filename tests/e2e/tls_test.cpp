// TLS on the client port (docs/protocol.md, section 1; docs/operations.md,
// "Certificates"), through real authd processes and a PKI made by the
// openssl command for each test.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/e2e/authd_process.hpp"
#include "tests/e2e/test_pki.hpp"

namespace castellan::test {
namespace {

using namespace std::chrono_literals;

class Tls : public ::testing::Test {
 protected:
  void SetUp() override {
    pki.make_ca("ca");
    pki.issue("node", "ca", "node", "IP:127.0.0.1");
  }

  net::tls_options trusting(const std::string& ca) const {
    net::tls_options o;
    o.enabled = true;
    o.ca_file = pki.pem(ca);
    return o;
  }

  net::tls_options with_certificate(const std::string& cert) const {
    auto o = trusting("ca");
    o.cert_file = pki.pem(cert);
    o.key_file = pki.key(cert);
    return o;
  }

  static net::client connect(const authd_process& node, const net::tls_options& tls) {
    return net::client::connect("127.0.0.1", node.port(), 5000ms, tls);
  }

  // Connects and pings; "" if the node answered, else why not.
  static std::string refusal(const authd_process& node, const net::tls_options& tls) {
    try {
      auto c = connect(node, tls);
      auto r = c.ping();
      return r.ok ? "" : "error reply: " + r.error;
    } catch (const net::client_error& e) {
      return e.what();
    }
  }

  // The node's files in a directory of their own, and a renewed
  // certificate ("renewed", from a second CA "ca2") ready to replace them.
  std::filesystem::path prepare_renewal() {
    pki.make_ca("ca2");
    pki.issue("renewed", "ca2", "node", "IP:127.0.0.1");
    auto live = pki.dir() / "live";
    std::filesystem::create_directories(live);
    std::filesystem::copy_file(pki.pem("node"), live / "node.pem");
    std::filesystem::copy_file(pki.key("node"), live / "node.key");
    return live;
  }

  static std::string live_toml(const std::filesystem::path& live, int reload_interval_ms) {
    return "[server.tls]\ncert_file = \"" + (live / "node.pem").string() + "\"\nkey_file = \"" +
           (live / "node.key").string() + "\"\nreload_interval_ms = " +
           std::to_string(reload_interval_ms) + "\n";
  }

  test_pki pki{fresh_test_dir("tls-pki")};
};

TEST_F(Tls, AClientThatTrustsTheCaLogsInValidatesAndLogsOut) {
  authd_process node(pki.server_toml("node"));
  auto c = connect(node, trusting("ca"));
  auto token = token_of(c, "alice", alice_password);
  auto v = c.validate(token);
  ASSERT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.as<net::validate_reply>().user, "alice");
  // Many requests in one write, answered over one TLS stream.
  std::vector<uint64_t> ids;
  for (int i = 0; i < 200; ++i)
    ids.push_back(c.queue(net::validate_request{0, token}));
  c.flush();
  for (size_t got = 0; got < ids.size();) {
    auto r = c.receive(5000ms);
    ASSERT_TRUE(r) << "reply " << got << " missing";
    EXPECT_TRUE(r->ok) << r->error;
    ++got;
  }
  EXPECT_TRUE(c.logout(token).ok);
  EXPECT_EQ(c.validate(token).error, "invalid_token");
  EXPECT_EQ(metric(node.monitor_port(), "castellan_tls_handshakes_total{result=\"ok\"}"), 1);
  EXPECT_GT(metric(node.monitor_port(), "castellan_tls_certificate_expiry_timestamp_seconds"),
            std::chrono::duration_cast<std::chrono::seconds>(
                std::chrono::system_clock::now().time_since_epoch()).count());
}

TEST_F(Tls, AuthctlAndAuthbenchSpeakTlsWithTheirFlags) {
  pki.make_ca("client-ca");
  pki.issue("gateway", "client-ca", "gateway");
  authd_process node(pki.server_toml("node", "client-ca") + generous_limits);
  auto port = std::to_string(node.port());
  auto login = run_program({CASTELLAN_AUTHCTL, "-p", port, "--ca", pki.pem("ca"), "--cert",
                            pki.pem("gateway"), "--key", pki.key("gateway"), "--json",
                            "--password-stdin", "login", "alice"},
                           alice_password + "\n");
  ASSERT_EQ(login.exit_code, 0) << login.err;
  EXPECT_NE(login.out.find("\"token\""), std::string::npos) << login.out;
  auto refused = run_program({CASTELLAN_AUTHCTL, "-p", port, "--ca", pki.pem("ca"), "ping"});
  EXPECT_NE(refused.exit_code, 0) << "no client certificate: " << refused.out;
  auto bench = run_program({CASTELLAN_AUTHBENCH, "--port", port, "--ca", pki.pem("ca"), "--cert",
                            pki.pem("gateway"), "--key", pki.key("gateway"), "--user", "alice",
                            "--password", alice_password, "-c", "4", "-P", "8", "-n", "2000",
                            "--json"});
  ASSERT_EQ(bench.exit_code, 0) << bench.err;
  auto r = nlohmann::json::parse(bench.out);
  EXPECT_EQ(r["requests"], 2000) << bench.out;
  EXPECT_TRUE(r["errors"].empty()) << bench.out;
}

TEST_F(Tls, TheExampleClientSpeaksTlsWithACaFile) {
  authd_process node(pki.server_toml("node") + generous_limits);
  auto run = run_program({CASTELLAN_VALIDATE_CLIENT, "127.0.0.1", std::to_string(node.port()), "alice",
                          pki.pem("ca")},
                         alice_password + "\n");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("100 validates ok for alice"), std::string::npos) << run.out;
}

TEST_F(Tls, APlaintextClientIsToldThePortSpeaksTlsAndClosed) {
  authd_process node(pki.server_toml("node"));
  auto c = node.connect();  // no TLS
  auto started = std::chrono::steady_clock::now();
  auto r = c.ping(5000ms);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "malformed");
  EXPECT_NE(r.message.find("speaks TLS"), std::string::npos) << r.message;
  EXPECT_THROW(c.receive(5000ms), net::client_error);  // then the node's EOF, not a hang
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(metric(node.monitor_port(), "castellan_tls_handshakes_total{result=\"not_tls\"}"), 1);
  // The node serves TLS clients as before.
  EXPECT_EQ(refusal(node, trusting("ca")), "");
}

// A client that sends a large batch and reads nothing for a while: the
// node's replies (far more than the sockets hold) wait for the socket and go
// on where they stopped once it drains; the client reads every reply, in
// order, and the connection serves on.
TEST_F(Tls, RepliesThatOutgrowTheSocketWaitAndArriveWhole) {
  authd_process node(pki.server_toml("node") + generous_limits);
  auto c = connect(node, trusting("ca"));
  auto token = token_of(c, "alice", alice_password);
  constexpr int sent = 100000;
  std::vector<uint64_t> ids;
  for (int i = 0; i < sent; ++i)
    ids.push_back(c.queue(net::validate_request{0, token}));
  c.flush();
  std::this_thread::sleep_for(500ms);  // the node meets a full socket meanwhile
  for (int got = 0; got < sent; ++got) {
    auto r = c.receive(5000ms);
    ASSERT_TRUE(r) << "reply " << got << " missing";
    ASSERT_EQ(r->id, ids[static_cast<size_t>(got)]);
    ASSERT_TRUE(r->ok) << r->error;
  }
  EXPECT_TRUE(c.validate(token).ok);
}

// A TLS client that half-closes TCP without a close_notify (as the client
// library does after the drain notice) still gets a reply to everything it
// sent, then the node's close; OpenSSL 3 would call that EOF a fatal error.
TEST_F(Tls, AClientThatHalfClosesWithoutCloseNotifyGetsEveryReply) {
  authd_process node(pki.server_toml("node") + generous_limits);
  auto c = connect(node, trusting("ca"));
  auto token = token_of(c, "alice", alice_password);
  constexpr int sent = 500;
  for (int i = 0; i < sent; ++i)
    c.queue(net::validate_request{0, token});
  c.flush();
  c.shutdown_send();
  int answered = 0;
  bool closed = false;
  try {
    while (auto r = c.receive(5000ms)) {
      ASSERT_TRUE(r->ok) << r->error << ": " << r->message;
      ++answered;
    }
  } catch (const net::client_error&) {
    closed = true;  // the node's close, after the last reply
  }
  EXPECT_EQ(answered, sent);
  EXPECT_TRUE(closed);
  EXPECT_EQ(refusal(node, trusting("ca")), "");  // and serves others on
}

// Over server.max_connections a TLS client is refused in the handshake, with
// an alert its TLS library names, not with bytes it cannot decrypt; the
// connections already open go on.
TEST_F(Tls, AConnectionOverTheCapIsRefusedWithATlsAlert) {
  authd_process node(pki.server_toml("node"), "max_connections = 2\n");
  auto a = connect(node, trusting("ca"));
  auto b = connect(node, trusting("ca"));
  ASSERT_TRUE(a.ping().ok && b.ping().ok);
  auto started = std::chrono::steady_clock::now();
  auto why = refusal(node, trusting("ca"));
  EXPECT_NE(why.find("alert internal error"), std::string::npos) << why;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(metric(node.monitor_port(), "castellan_connections_rejected_total"), 1);
  EXPECT_TRUE(a.ping().ok);
  EXPECT_TRUE(b.ping().ok);
}

// A stopping node drains a TLS connection as a plaintext one
// (docs/protocol.md, section 6): every request read is answered, then its
// close_notify and EOF; the client reads them all, none is cut by a reset.
TEST_F(Tls, AStoppingNodeAnswersEveryRequestThenClosesTheTlsStream) {
  authd_process node(pki.server_toml("node") + generous_limits);
  auto c = connect(node, trusting("ca"));
  auto token = token_of(c, "alice", alice_password);
  constexpr int sent = 2000;
  for (int i = 0; i < sent; ++i)
    c.queue(net::validate_request{0, token});
  c.flush();
  std::thread stopper([&] { node.stop(); });
  int answered = 0, notices = 0;
  try {
    while (auto r = c.receive(5000ms)) {
      if (r->id == net::connection_level_id)
        ++notices;
      else
        ++answered;
    }
  } catch (const net::client_error&) {
    // the node's close, after the last reply
  }
  stopper.join();
  EXPECT_EQ(answered, sent);
  EXPECT_LE(notices, 1);
}

TEST_F(Tls, AClientRefusesANodeWhoseCertificateItCannotVerify) {
  pki.make_ca("other-ca");
  authd_process node(pki.server_toml("node"));
  auto why = refusal(node, trusting("other-ca"));
  EXPECT_NE(why.find("certificate"), std::string::npos) << why;
  auto named = trusting("ca");
  named.server_name = "somebody-else.example";
  why = refusal(node, named);
  EXPECT_NE(why.find("hostname mismatch"), std::string::npos) << why;
}

TEST_F(Tls, AClientThatSilentlyStallsItsHandshakeIsClosed) {
  authd_process node(pki.server_toml("node", "", "handshake_timeout_ms = 300\n"));
  auto c = node.connect();
  c.queue_raw(std::string("\x16\x03\x01", 3));  // a TLS record header, then nothing
  c.flush();
  EXPECT_THROW(c.receive(5000ms), net::client_error);
  EXPECT_EQ(metric(node.monitor_port(), "castellan_tls_handshakes_total{result=\"timed_out\"}"), 1);
}

TEST_F(Tls, MutualTlsAdmitsOnlyCurrentCertificatesOfTheClientCa) {
  pki.make_ca("client-ca");
  pki.make_ca("stranger-ca");
  pki.issue("gateway", "client-ca", "gateway");
  pki.issue("stranger", "stranger-ca", "gateway");
  pki.issue("expired", "client-ca", "gateway", "", -1);
  authd_process node(pki.server_toml("node", "client-ca"));

  auto as = [&](const std::string& cert) {
    auto o = trusting("ca");
    o.cert_file = pki.pem(cert);
    o.key_file = pki.key(cert);
    return o;
  };
  EXPECT_EQ(refusal(node, as("gateway")), "");
  EXPECT_NE(refusal(node, trusting("ca")), "") << "no client certificate";
  EXPECT_NE(refusal(node, as("stranger")), "") << "a certificate from another CA";
  EXPECT_NE(refusal(node, as("expired")), "") << "an expired certificate";
  EXPECT_EQ(metric(node.monitor_port(), "castellan_tls_handshakes_total{result=\"failed\"}"), 3);
  EXPECT_EQ(metric(node.monitor_port(), "castellan_tls_handshakes_total{result=\"ok\"}"), 1);
}

// A service proves its user with its certificate (RFC 8705's idea for an
// opaque token): the token works only on connections that present the
// same certificate, survives a kill -9 like any session, and a password
// login's token still works from any connection.
TEST_F(Tls, AServiceLogsInWithItsCertificateAndItsTokenWorksOnlyWithThatCertificate) {
  pki.make_ca("client-ca");
  pki.issue("gateway", "client-ca", "gateway", "URI:spiffe://desk-7/gateway");
  pki.issue("impostor", "client-ca", "gateway");  // the same CN, another certificate
  pki.issue("risk", "client-ca", "risk");
  auto node = std::make_unique<authd_process>(pki.server_toml("node", "client-ca") + generous_limits);
  node->keep_dir();
  auto dir = node->dir();
  auto mapped = run_program({CASTELLAN_AUTHCTL, "--users-file", node->users_file(), "user",
                             "certificates", "alice", "URI:spiffe://desk-7/gateway"});
  ASSERT_EQ(mapped.exit_code, 0) << mapped.err;

  auto gateway = connect(*node, with_certificate("gateway"));
  std::string token;
  ASSERT_TRUE(eventually([&] {  // the node re-reads the users file
    auto r = gateway.login_certificate("alice");
    if (r.ok)
      token = r.as<net::login_reply>().token;
    return r.ok;
  }));
  EXPECT_TRUE(gateway.validate(token).ok);
  auto again = connect(*node, with_certificate("gateway"));
  EXPECT_TRUE(again.validate(token).ok) << "a new connection with the same certificate";
  auto impostor = connect(*node, with_certificate("impostor"));
  auto risk = connect(*node, with_certificate("risk"));
  EXPECT_EQ(impostor.validate(token).error, "invalid_token");
  EXPECT_EQ(risk.validate(token).error, "invalid_token");
  EXPECT_EQ(risk.logout(token).error, "invalid_token");
  EXPECT_TRUE(gateway.validate(token).ok) << "another certificate's logout ended nothing";
  // A certificate proves only the users it is mapped to.
  EXPECT_EQ(impostor.login_certificate("alice").error, "bad_credentials");
  EXPECT_EQ(gateway.login_certificate("ops").error, "bad_credentials");
  // A subject CN proves a user too, when the users file names it.
  ASSERT_EQ(run_program({CASTELLAN_AUTHCTL, "--users-file", node->users_file(), "user", "certificates",
                         "ops", "CN=risk"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return risk.login_certificate("ops").ok; }));
  // A password login's token is not bound.
  auto plain = token_of(risk, "alice", alice_password);
  EXPECT_TRUE(gateway.validate(plain).ok);
  // authctl does the same with --certificate.
  auto cli = run_program({CASTELLAN_AUTHCTL, "-p", std::to_string(node->port()), "--ca", pki.pem("ca"),
                          "--cert", pki.pem("gateway"), "--key", pki.key("gateway"), "login",
                          "alice", "--certificate"});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_NE(cli.out.find("token: "), std::string::npos) << cli.out;

  node->kill_hard();
  node.reset();
  auto restarted = authd_process::restart_in(dir);
  auto after = net::client::connect("127.0.0.1", restarted->port(), 5000ms, with_certificate("gateway"));
  auto v = after.validate(token);
  EXPECT_TRUE(v.ok) << v.error;
  auto other = net::client::connect("127.0.0.1", restarted->port(), 5000ms, with_certificate("risk"));
  EXPECT_EQ(other.validate(token).error, "invalid_token");
}

TEST_F(Tls, ALoginByCertificateWithoutOneIsForbidden) {
  authd_process tls_only(pki.server_toml("node"));
  auto c = connect(tls_only, trusting("ca"));
  EXPECT_EQ(c.login_certificate("alice").error, "forbidden");
  authd_process plaintext;
  auto p = plaintext.connect();
  EXPECT_EQ(p.login_certificate("alice").error, "forbidden");
}

// A renewed certificate, written over the files in force: connections open
// before keep working, new ones get the new certificate. Here it comes from
// a new CA, so a client trusting only that CA tells which one it got.
TEST_F(Tls, ARenewedCertificateIsServedToNewConnectionsWhileOpenOnesStay) {
  auto live = prepare_renewal();
  authd_process node(live_toml(live, 100));
  auto before = connect(node, trusting("ca"));
  auto token = token_of(before, "alice", alice_password);
  ASSERT_NE(refusal(node, trusting("ca2")), "");

  // As a renewal tool writes them: each file replaced by a rename.
  for (auto name : {"node.key", "node.pem"}) {
    auto from = std::string(name) == "node.pem" ? pki.pem("renewed") : pki.key("renewed");
    std::filesystem::copy_file(from, live / (std::string(name) + ".new"));
    std::filesystem::rename(live / (std::string(name) + ".new"), live / name);
  }
  EXPECT_TRUE(eventually([&] { return refusal(node, trusting("ca2")).empty(); }, 5000ms));
  EXPECT_NE(refusal(node, trusting("ca")), "");
  EXPECT_GE(metric(node.monitor_port(), "castellan_tls_reloads_total{result=\"ok\"}"), 1);
  auto v = before.validate(token);  // the connection from before the renewal
  EXPECT_TRUE(v.ok) << v.error;
}

TEST_F(Tls, SighupReloadsTheFilesAndABrokenOneChangesNothing) {
  auto live = prepare_renewal();
  authd_process node(live_toml(live, 3600000));  // longer than the test: only SIGHUP reloads
  // A certificate without its key: refused, the one in force stays.
  std::filesystem::copy_file(pki.pem("renewed"), live / "node.pem",
                             std::filesystem::copy_options::overwrite_existing);
  node.reload();
  EXPECT_TRUE(eventually([&] {
    return metric(node.monitor_port(), "castellan_tls_reloads_total{result=\"failed\"}") == 1;
  }));
  EXPECT_EQ(refusal(node, trusting("ca")), "");
  std::filesystem::copy_file(pki.key("renewed"), live / "node.key",
                             std::filesystem::copy_options::overwrite_existing);
  node.reload();
  EXPECT_TRUE(eventually([&] { return refusal(node, trusting("ca2")).empty(); }));
}

TEST_F(Tls, ANodeWithAKeyThatDoesNotMatchItsCertificateDoesNotStart) {
  pki.issue("other", "ca", "other");
  auto dir = pki.dir() / "node";
  std::filesystem::create_directories(dir);
  write_users((dir / "users.toml").string());
  std::ofstream(dir / "authd.toml")
      << "[node]\ndata_dir = \"" << dir.string() << "\"\n[server]\nport = 0\n[monitor]\nport = 0\n"
      << "[server.tls]\ncert_file = \"" << pki.pem("node") << "\"\nkey_file = \"" << pki.key("other")
      << "\"\n";
  auto r = run_program({CASTELLAN_AUTHD, "--config", (dir / "authd.toml").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("server.tls.key_file"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("PRIVATE KEY"), std::string::npos) << "never quote the key file";
}

}  // namespace
}  // namespace castellan::test
