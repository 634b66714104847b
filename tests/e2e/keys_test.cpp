// Token keys persist and rotate: tokens issued before `authctl keys rotate`
// keep working, across a restart, until their key's grace period ends; the
// running node picks up the rotation and records it as events.
#include <gtest/gtest.h>
#include <sodium.h>

#include "net/byte_order.hpp"
#include "tests/e2e/authd_process.hpp"

namespace castellan::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The key id inside a token (bytes 1..4 of its body).
uint32_t key_id_of(const std::string& token) {
  unsigned char raw[64];
  size_t n = 0;
  sodium_base642bin(raw, sizeof raw, token.data(), token.size(), nullptr, &n, nullptr,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return net::load_be32(raw + 1);
}

TEST(Keys, TokensFromBeforeARotationWorkUntilTheirKeyRetires) {
  auto node = std::make_unique<authd_process>(
      "[tokens]\nrotation_grace_s = 4\nreload_interval_ms = 50\n");
  node->keep_dir();
  auto dir = node->dir();
  auto c = node->connect();
  auto before = c.login("alice", alice_password).as<net::login_reply>().token;
  EXPECT_EQ(key_id_of(before), 1u);

  auto rotate = run_program({CASTELLAN_AUTHCTL, "--config", node->config_file(), "keys", "rotate"});
  ASSERT_EQ(rotate.exit_code, 0) << rotate.err;
  std::string after;
  ASSERT_TRUE(eventually([&] {  // the running node picks the new primary up
    after = c.login("alice", alice_password).as<net::login_reply>().token;
    return key_id_of(after) == 2;
  }, 10s));
  EXPECT_TRUE(c.validate(before).ok);

  node->kill_hard();  // the keys, like the sessions, survive a restart
  node.reset();
  auto restarted = authd_process::restart_in(dir);
  auto c2 = restarted->connect();
  EXPECT_TRUE(c2.validate(before).ok);
  EXPECT_TRUE(c2.validate(after).ok);
  ASSERT_TRUE(eventually([&] { return c2.validate(before).error == "invalid_token"; }, 15s))
      << "key 1 did not retire after its grace period";
  EXPECT_TRUE(c2.validate(after).ok);

  auto tail = run_program({CASTELLAN_AUTHCTL, "audit", "tail", (dir / "audit").string()});
  EXPECT_NE(tail.out.find("key_rotated"), std::string::npos) << tail.out;
  EXPECT_NE(tail.out.find("key_retired"), std::string::npos) << tail.out;
  EXPECT_NE(tail.out.find("key=1"), std::string::npos) << tail.out;
  restarted.reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace castellan::test
