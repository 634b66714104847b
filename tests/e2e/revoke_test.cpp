// revoke_user: an admin (or the user themself) ends every session of a user
// at once, as an operator does when credentials leak.
#include <gtest/gtest.h>

#include "net/messages.hpp"
#include "tests/e2e/authd_process.hpp"

namespace castellan::test {
namespace {

using namespace std::chrono_literals;

TEST(RevokeUser, AnAdminEndsEverySessionOfAUserAndOnlyThatUser) {
  authd_process node;
  auto c = node.connect();
  std::vector<std::string> alice;
  for (int i = 0; i < 5; ++i)
    alice.push_back(token_of(c, "alice", alice_password));
  auto admin = token_of(c, "ops", ops_password);
  auto r = c.call(net::revoke_user_request{0, admin, "alice"});
  ASSERT_TRUE(r.ok) << r.error << " " << r.message;
  EXPECT_EQ(r.as<net::revoke_user_reply>().revoked, 5u);
  for (auto& t : alice)
    EXPECT_EQ(c.validate(t).error, "invalid_token");
  EXPECT_TRUE(c.validate(admin).ok);  // other users keep their sessions
  // Nothing left: a second revoke ends nothing, and alice may log in again.
  EXPECT_EQ(c.call(net::revoke_user_request{0, admin, "alice"})
                .as<net::revoke_user_reply>()
                .revoked,
            0u);
  EXPECT_TRUE(c.validate(token_of(c, "alice", alice_password)).ok);
}

TEST(RevokeUser, AUserMayRevokeOnlyTheirOwnSessions) {
  authd_process node;
  auto c = node.connect();
  auto admin = token_of(c, "ops", ops_password);
  auto a1 = token_of(c, "alice", alice_password);
  auto a2 = token_of(c, "alice", alice_password);
  EXPECT_EQ(c.call(net::revoke_user_request{0, a1, "ops"}).error, "forbidden");
  EXPECT_TRUE(c.validate(admin).ok);
  auto own = c.call(net::revoke_user_request{0, a1, "alice"});
  ASSERT_TRUE(own.ok) << own.error;
  EXPECT_EQ(own.as<net::revoke_user_reply>().revoked, 2u);
  EXPECT_EQ(c.validate(a2).error, "invalid_token");
  // The caller's token is checked like any other.
  EXPECT_EQ(c.call(net::revoke_user_request{0, a1, "alice"}).error, "invalid_token");
  EXPECT_EQ(c.call(net::revoke_user_request{0, "garbage", "alice"}).error, "invalid_token");
  EXPECT_EQ(c.call(net::revoke_user_request{0, admin, ""}).error, "malformed");
}

TEST(RevokeUser, IsRecordedAndSurvivesARestart) {
  auto node = std::make_unique<authd_process>();
  node->keep_dir();
  auto dir = node->dir();
  auto c = node->connect();
  auto a = token_of(c, "alice", alice_password);
  auto admin = token_of(c, "ops", ops_password);
  ASSERT_TRUE(c.call(net::revoke_user_request{0, admin, "alice"}).ok);
  node->kill_hard();
  node = authd_process::restart_in(dir);
  auto c2 = node->connect();
  EXPECT_EQ(c2.validate(a).error, "invalid_token");
  EXPECT_TRUE(c2.validate(admin).ok);
  auto tail = run_program({CASTELLAN_AUTHCTL, "--json", "audit", "tail", (dir / "audit").string()});
  EXPECT_NE(tail.out.find("\"sessions_revoked\""), std::string::npos) << tail.out;
  EXPECT_NE(tail.out.find("by=ops"), std::string::npos);
  EXPECT_NE(tail.out.find("\"revoked\""), std::string::npos);  // the logout's reason
}

}  // namespace
}  // namespace castellan::test
