// The users file and password hashing: strict parsing, atomic 0600 saves,
// and the bootstrap admin whose password is returned exactly once.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "config/password_hash.hpp"
#include "config/users_file.hpp"

namespace castellan::config {
namespace {

constexpr argon2_params cheap{64, 1};  // tests only: real hashes use 19 MiB

class UsersFileTest : public ::testing::Test {
 protected:
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("castellan-users-" + std::to_string(::getpid()) + "-" +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::string path = (dir / "users.toml").string();
  void SetUp() override { std::filesystem::remove_all(dir); }
  void TearDown() override { std::filesystem::remove_all(dir); }
};

TEST(PasswordHash, VerifiesOnlyTheRightPassword) {
  auto h = hash_password("correct horse", cheap);
  EXPECT_EQ(h.rfind("$argon2id$", 0), 0u);
  EXPECT_TRUE(verify_password("correct horse", h));
  EXPECT_FALSE(verify_password("correct horse ", h));
  EXPECT_FALSE(verify_password("", h));
  EXPECT_FALSE(verify_password("x", "not a hash"));
}

TEST(PasswordHash, HashRecordsItsOwnCost) {
  auto h = hash_password("pw", {128, 3});
  EXPECT_NE(h.find("m=128,t=3"), std::string::npos) << h;
  auto p = params_of(h);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->memory_kib, 128u);
  EXPECT_EQ(p->iterations, 3u);
  EXPECT_FALSE(params_of("$2y$10$bcrypt"));
}

TEST_F(UsersFileTest, SaveAndLoadRoundTrip) {
  users_table t;
  t.by_name["alice"] = {"alice", hash_password("pw", cheap), {"trader", "risk"}, true, {}};
  t.by_name["bob"] = {"bob", hash_password("pw2", cheap), {}, false, {}};
  save_users(t, path);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = load_users(path);
  ASSERT_EQ(back.by_name.size(), 2u);
  EXPECT_EQ(back.find("alice")->roles, (std::vector<std::string>{"trader", "risk"}));
  EXPECT_TRUE(back.find("alice")->enabled);
  EXPECT_FALSE(back.find("bob")->enabled);
  EXPECT_TRUE(verify_password("pw2", back.find("bob")->password_hash));
  EXPECT_EQ(back.find("carol"), nullptr);
}

std::string users_file_error_of(const std::string& text) {
  try {
    parse_users(text, "users.toml");
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

TEST_F(UsersFileTest, CertificateNamesRoundTripAndBadOnesAreRefused) {
  users_table t;
  t.by_name["gw"] = {"gw", hash_password("pw", cheap), {}, true,
                     {"CN=gateway", "DNS:gw.example", "URI:spiffe://desk/gw"}};
  save_users(t, path);
  auto back = load_users(path);
  EXPECT_EQ(back.find("gw")->certificates, t.by_name["gw"].certificates);
  auto hash = hash_password("pw", cheap);
  for (auto bad : {"\"gateway\"", "\"CN=\"", "\"IP:10.0.0.1\"", "1"})
    EXPECT_THROW(parse_users("[[users]]\nname = \"gw\"\npassword_hash = \"" + hash +
                                 "\"\ncertificates = [" + bad + "]\n",
                             "t"),
                 config_error)
        << bad;
  users_table after = t;
  after.by_name["gw"].certificates = {"CN=gateway"};
  EXPECT_EQ(diff_users(t, after), (std::vector<std::pair<std::string, std::string>>{{"gw", "certificates"}}));
}

TEST(UsersFile, StrictParsingNamesTheEntry) {
  auto hash = hash_password("pw", cheap);
  EXPECT_NE(users_file_error_of("[[users]]\nname = \"a\"\npassword_hash = \"" + hash + "\"\nrole = []\n")
                .find("users[0].role"),
            std::string::npos);
  EXPECT_NE(users_file_error_of("[[users]]\nname = \"a b\"\npassword_hash = \"" + hash + "\"\n").find("name"),
            std::string::npos);
  EXPECT_NE(users_file_error_of("[[users]]\nname = \"a\"\npassword_hash = \"plain\"\n").find("argon2id"),
            std::string::npos);
  EXPECT_NE(users_file_error_of("[[users]]\nname = \"a\"\npassword_hash = \"" + hash +
                     "\"\n[[users]]\nname = \"a\"\npassword_hash = \"" + hash + "\"\n")
                .find("duplicate"),
            std::string::npos);
  EXPECT_NE(users_file_error_of("admins = 1\n").find("unknown key"), std::string::npos);
  EXPECT_EQ(parse_users("", "users.toml").by_name.size(), 0u);
}

TEST_F(UsersFileTest, BootstrapCreatesOneAdminOnce) {
  auto password = bootstrap_users_file(path, 64, 1);
  ASSERT_TRUE(password);
  EXPECT_GE(password->size(), 20u);
  auto t = load_users(path);
  ASSERT_NE(t.find("admin"), nullptr);
  EXPECT_EQ(t.find("admin")->roles, std::vector<std::string>{"admin"});
  EXPECT_TRUE(verify_password(*password, t.find("admin")->password_hash));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The file holds no clear password.
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text.find(*password), std::string::npos);
  EXPECT_FALSE(bootstrap_users_file(path, 64, 1));
}

TEST(UsersDiff, NamesEveryKindOfChange) {
  users_table before, after;
  before.by_name["a"] = {"a", "$argon2id$1", {"x"}, true, {}};
  before.by_name["b"] = {"b", "$argon2id$2", {}, true, {}};
  before.by_name["c"] = {"c", "$argon2id$3", {}, true, {}};
  before.by_name["d"] = {"d", "$argon2id$4", {}, true, {}};
  after.by_name["a"] = {"a", "$argon2id$1", {"x", "y"}, true, {}};
  after.by_name["b"] = {"b", "$argon2id$2", {}, false, {}};
  after.by_name["c"] = {"c", "$argon2id$new", {}, true, {}};
  after.by_name["e"] = {"e", "$argon2id$5", {}, true, {}};
  auto d = diff_users(before, after);
  std::vector<std::pair<std::string, std::string>> want{
      {"a", "roles"}, {"b", "disabled"}, {"c", "password"}, {"d", "removed"}, {"e", "added"}};
  EXPECT_EQ(d, want);
}

TEST(UserNames, Validity) {
  EXPECT_TRUE(valid_user_name("alice.b-c_d@desk"));
  EXPECT_FALSE(valid_user_name(""));
  EXPECT_FALSE(valid_user_name("a b"));
  EXPECT_FALSE(valid_user_name(std::string(65, 'a')));
}

}  // namespace
}  // namespace castellan::config
