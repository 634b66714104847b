// Logins and sessions end to end: what a trading gateway relies on.
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "config/password_hash.hpp"
#include "config/users_file.hpp"
#include "tests/e2e/authd_process.hpp"

namespace castellan::test {
namespace {

using namespace std::chrono_literals;

class SessionsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { node = new authd_process(); }
  static void TearDownTestSuite() {
    delete node;
    node = nullptr;
  }
  static std::string login_alice(net::client& c) {
    auto r = c.login("alice", alice_password);
    if (!r.ok)
      throw std::runtime_error("login failed: " + r.error);
    return r.as<net::login_reply>().token;
  }
  static authd_process* node;
};
authd_process* SessionsTest::node = nullptr;

TEST_F(SessionsTest, WrongPasswordIsBadCredentials) {
  auto c = node->connect();
  auto r = c.login("alice", "not-her-password");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "bad_credentials");
}

TEST_F(SessionsTest, UnknownUserIsBadCredentialsToo) {
  auto c = node->connect();
  EXPECT_EQ(c.login("mallory", "whatever").error, "bad_credentials");
}

TEST_F(SessionsTest, RightPasswordGivesATokenAndValidateNamesTheUser) {
  auto c = node->connect();
  auto r = c.login("alice", alice_password);
  ASSERT_TRUE(r.ok) << r.error;
  auto login = r.as<net::login_reply>();
  EXPECT_EQ(login.user, "alice");
  EXPECT_EQ(login.roles, (std::vector<std::string>{"trader", "desk-7"}));
  EXPECT_EQ(login.token.size(), 50u);
  auto v = c.validate(login.token);
  ASSERT_TRUE(v.ok) << v.error;
  auto valid = v.as<net::validate_reply>();
  EXPECT_EQ(valid.user, "alice");
  EXPECT_EQ(valid.roles, login.roles);
  EXPECT_EQ(valid.expires_at_ms, login.expires_at_ms);
}

TEST_F(SessionsTest, ATokenWorksOnAnotherConnection) {
  auto a = node->connect();
  auto token = login_alice(a);
  auto b = node->connect();
  EXPECT_TRUE(b.validate(token).ok);
}

// A validate is answered by the I/O thread that reads it, from the shard's
// index (docs/architecture.md, "The log first"): whatever a client was told
// on one connection, a validate sent afterwards on another sees at once.
TEST_F(SessionsTest, WhatOneConnectionWasToldAValidateOnAnotherSeesAtOnce) {
  auto a = node->connect();
  auto b = node->connect();
  for (int i = 0; i < 30; ++i) {
    auto token = login_alice(a);
    auto opened = b.validate(token);
    ASSERT_TRUE(opened.ok) << "round " << i << ": " << opened.error;
    auto refresh = a.refresh(token);
    ASSERT_TRUE(refresh.ok) << refresh.error;
    EXPECT_EQ(b.validate(token).as<net::validate_reply>().expires_at_ms,
              refresh.as<net::refresh_reply>().expires_at_ms);
    ASSERT_TRUE(a.logout(token).ok);
    EXPECT_EQ(b.validate(token).error, "invalid_token") << "round " << i;
  }
}

TEST_F(SessionsTest, RefreshExtendsTheSession) {
  auto c = node->connect();
  auto login = c.login("alice", alice_password).as<net::login_reply>();
  int64_t refreshed = 0;
  ASSERT_TRUE(eventually([&] {
    auto r = c.refresh(login.token);
    refreshed = r.ok ? r.as<net::refresh_reply>().expires_at_ms : 0;
    return refreshed > login.expires_at_ms;
  }, 5s));
  EXPECT_EQ(c.validate(login.token).as<net::validate_reply>().expires_at_ms, refreshed);
}

TEST_F(SessionsTest, LogoutMakesTheTokenInvalid) {
  auto c = node->connect();
  auto token = login_alice(c);
  EXPECT_TRUE(c.logout(token).ok);
  EXPECT_EQ(c.validate(token).error, "invalid_token");
  EXPECT_EQ(c.logout(token).error, "invalid_token");
  EXPECT_EQ(c.refresh(token).error, "invalid_token");
}

TEST_F(SessionsTest, AnAlteredTokenIsInvalidToken) {
  auto c = node->connect();
  auto token = login_alice(c);
  for (size_t at : {size_t{0}, size_t{3}, size_t{10}, size_t{30}, size_t{49}}) {
    auto bad = token;
    bad[at] = bad[at] == 'x' ? 'y' : 'x';
    EXPECT_EQ(c.validate(bad).error, "invalid_token") << "altered at " << at;
  }
  EXPECT_TRUE(c.validate(token).ok);
}

TEST_F(SessionsTest, DisabledUserIsForbidden) {
  auto c = node->connect();
  auto r = c.login("carol", carol_password);
  EXPECT_EQ(r.error, "forbidden");
  EXPECT_EQ(c.login("carol", "wrong-password").error, "bad_credentials");
}

TEST_F(SessionsTest, TenThousandPipelinedValidatesAllAnswered) {
  auto c = node->connect();
  auto token = login_alice(c);
  auto second = node->connect();
  std::set<uint64_t> sent;
  for (int i = 0; i < 10000; ++i)
    sent.insert(c.queue(net::validate_request{0, token}));
  c.flush(10s);
  size_t ok = 0;
  std::set<uint64_t> got;
  while (got.size() < sent.size()) {
    auto r = c.receive(10s);
    ASSERT_TRUE(r) << "only " << got.size() << " replies";
    got.insert(r->id);
    ok += r->ok;
    if (got.size() == 5000) {
      EXPECT_TRUE(second.ping().ok);  // the other connection is served meanwhile
    }
  }
  EXPECT_EQ(got, sent);
  EXPECT_EQ(ok, sent.size());
}

TEST_F(SessionsTest, ManyConnectionsPipeliningAtOnceEachGetTheirOwnReplies) {
  // Ops of every connection served in one event-loop turn travel in one
  // batch; each reply must still reach the connection that asked.
  std::vector<net::client> clients;
  std::vector<std::string> tokens;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(node->connect());
    tokens.push_back(login_alice(clients.back()));
  }
  std::vector<std::set<uint64_t>> sent(clients.size());
  for (size_t i = 0; i < clients.size(); ++i)
    for (int k = 0; k < 300; ++k)
      sent[i].insert(k % 10 == 0 ? clients[i].queue(net::refresh_request{0, tokens[i]})
                                 : clients[i].queue(net::validate_request{0, tokens[i]}));
  for (auto& c : clients)
    c.flush(10s);
  for (size_t i = 0; i < clients.size(); ++i) {
    std::set<uint64_t> got;
    while (got.size() < sent[i].size()) {
      auto r = clients[i].receive(10s);
      ASSERT_TRUE(r) << "connection " << i << " got " << got.size();
      ASSERT_TRUE(r->ok) << r->error;
      ASSERT_TRUE(got.insert(r->id).second) << "duplicate reply " << r->id;
    }
    EXPECT_EQ(got, sent[i]);
    EXPECT_FALSE(clients[i].receive(50ms)) << "a reply meant for another connection";
  }
}

TEST_F(SessionsTest, ConcurrentLoginsOfOneUserAllSucceed) {
  std::vector<net::client> clients;
  for (int i = 0; i < 8; ++i)
    clients.push_back(node->connect());
  for (auto& c : clients)
    c.queue(net::login_request{0, "alice", alice_password, ""});
  for (auto& c : clients)
    c.flush();
  std::set<std::string> tokens;
  for (auto& c : clients) {
    auto r = c.receive(20s);
    ASSERT_TRUE(r && r->ok);
    tokens.insert(r->as<net::login_reply>().token);
  }
  EXPECT_EQ(tokens.size(), 8u);
}

TEST(SessionLifetime, SessionsExpireAndAreSwept) {
  authd_process node("[sessions]\nttl_s = 1\nmax_lifetime_s = 1\nsweep_interval_ms = 50\n");
  auto c = node.connect();
  auto token = c.login("alice", alice_password).as<net::login_reply>().token;
  EXPECT_TRUE(c.validate(token).ok);
  EXPECT_TRUE(eventually([&] { return !c.validate(token).ok; }, 5s));
  auto e = c.validate(token).error;
  EXPECT_TRUE(e == "expired" || e == "invalid_token") << e;
}

TEST(SessionLimits, LoginsBeyondMaxSessionsAreUnavailable) {
  authd_process node("[actors]\nsession_shards = 1\n[sessions]\nmax_sessions = 2\n");
  auto c = node.connect();
  auto first = c.login("alice", alice_password);
  ASSERT_TRUE(first.ok);
  ASSERT_TRUE(c.login("alice", alice_password).ok);
  auto third = c.login("alice", alice_password);
  EXPECT_EQ(third.error, "unavailable");
  EXPECT_EQ(third.message, "session table full");
  EXPECT_TRUE(c.logout(first.as<net::login_reply>().token).ok);
  EXPECT_TRUE(c.login("alice", alice_password).ok);  // room again
}

// One shard of two sessions whose sweeper never runs during the test: the
// only sweep is the one a login into the full shard makes. What it ends is
// counted and recorded as the sweeper's would be.
TEST(SessionLimits, ExpiredSessionsAFullShardSweepsAreCountedAndRecordedAsExpired) {
  authd_process node(
      "[actors]\nsession_shards = 1\n[sessions]\nmax_sessions = 2\nttl_s = 1\nmax_lifetime_s = 1\n"
      "sweep_interval_ms = 3600000\n"
      "[limiter.user]\nrate_per_s = 100000\nburst = 100000\nlockout_after = 0\n"
      "[limiter.ip]\nrate_per_s = 100000\nburst = 100000\nlockout_after = 0\n"
      "[limiter.user_ip]\nrate_per_s = 100000\nburst = 100000\nlockout_after = 0\n");
  auto c = node.connect();
  ASSERT_TRUE(c.login("alice", alice_password).ok);
  ASSERT_TRUE(c.login("alice", alice_password).ok);
  std::string refusal;
  // Full until both are due (within about two seconds); never validated, so
  // only the sweep can end them.
  ASSERT_TRUE(eventually([&] {
    auto r = c.login("alice", alice_password);
    if (!r.ok)
      refusal = r.message;
    return r.ok;
  }));
  EXPECT_EQ(refusal, "session table full");
  auto response = http_get(node.monitor_port(), "/metrics");
  EXPECT_NE(response.find("\ncastellan_sessions_active 1\n"), std::string::npos) << response;
  EXPECT_NE(response.find("castellan_sessions_ended_total{reason=\"expired\"} 2\n"), std::string::npos)
      << response;
  // The third login's record is durable, and the writer had the sweep's first.
  auto tail = run_program(
      {CASTELLAN_AUTHCTL, "--json", "audit", "tail", node.audit_dir(), "--kind", "session_expired"});
  ASSERT_EQ(tail.exit_code, 0) << tail.err;
  std::set<std::string> expired;
  std::istringstream lines(tail.out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) {
      auto record = nlohmann::json::parse(line);
      EXPECT_EQ(record.at("user"), "alice");
      expired.insert(record.at("session").get<std::string>());
    }
  EXPECT_EQ(expired.size(), 2u) << tail.out;
}

TEST(UserChanges, DisablingAUserEndsTheirSessions) {
  authd_process node;
  auto c = node.connect();
  auto token = c.login("alice", alice_password).as<net::login_reply>().token;
  auto users = config::load_users(node.users_file());
  users.by_name["alice"].enabled = false;
  config::save_users(users, node.users_file());
  EXPECT_TRUE(eventually([&] { return c.validate(token).error == "invalid_token"; }, 10s));
  EXPECT_EQ(c.login("alice", alice_password).error, "forbidden");
}

TEST(UserChanges, AUserDisabledDuringTheirLoginGetsNoSession) {
  authd_process node;
  auto users = config::load_users(node.users_file());
  // A costly hash (~0.3 s) so that the reload lands while the password is checked.
  users.by_name["bob"] = {"bob", config::hash_password("bob-password", {65536, 4}), {}, true, {}};
  config::save_users(users, node.users_file());
  auto c = node.connect();
  ASSERT_TRUE(eventually([&] { return c.login("bob", "bob-password").ok; }, 10s));
  c.queue(net::login_request{0, "bob", "bob-password", ""});
  c.flush();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the check is under way
  users.by_name["bob"].enabled = false;
  config::save_users(users, node.users_file());
  auto r = c.receive(10s);
  ASSERT_TRUE(r);
  if (r->ok) {
    // It was opened before the reload reached the shard: the reload ends it.
    auto token = r->as<net::login_reply>().token;
    EXPECT_TRUE(eventually([&] { return c.validate(token).error == "invalid_token"; }, 5s));
  } else {
    EXPECT_EQ(r->error, "forbidden");
  }
  EXPECT_EQ(c.login("bob", "bob-password").error, "forbidden");
}

TEST(UserChanges, AddedUserCanLogInAfterReload) {
  // Until the reload, each try is a failed login of an unknown user: with the
  // default limits a slow reload would lock dave out before he exists.
  authd_process node(generous_limits);
  auto users = config::load_users(node.users_file());
  users.by_name["dave"] = {"dave", config::hash_password("dave-password", {64, 1}), {"ops"}, true, {}};
  config::save_users(users, node.users_file());
  auto c = node.connect();
  EXPECT_TRUE(eventually([&] { return c.login("dave", "dave-password").ok; }, 10s));
}

}  // namespace
}  // namespace castellan::test
