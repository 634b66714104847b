// Tokens: what the front door accepts and refuses without asking a shard,
// and key rotation through the key file.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "net/key_file.hpp"
#include "net/token.hpp"

namespace castellan::net {
namespace {

token_key key(uint32_t id, uint8_t fill) {
  token_key k;
  k.id = id;
  k.secret.fill(fill);
  return k;
}

TEST(Token, MintedTokenVerifiesToItsSessionKey) {
  keyring ring({key(1, 7)}, 1);
  auto sid = random_session_id();
  auto minted = ring.mint(sid);
  EXPECT_EQ(minted.token.size(), token_text_bytes);
  auto back = ring.verify(minted.token);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, minted.key);
  EXPECT_NE(minted.key, sid);  // the key is the MAC tag, not the id
}

// RFC 8705's idea for opaque tokens: a bound token verifies only with the
// digest of the certificate it was issued to, and names a session key of its
// own (the same session id unbound names another).
TEST(Token, ABoundTokenVerifiesOnlyWithItsCertificate) {
  keyring ring({key(1, 7)}, 1);
  certificate_digest mine{}, other{};
  mine.fill(1);
  other.fill(2);
  auto sid = random_session_id();
  auto bound = ring.mint(sid, &mine);
  auto back = ring.verify(bound.token, &mine);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, bound.key);
  EXPECT_FALSE(ring.verify(bound.token, &other));
  EXPECT_FALSE(ring.verify(bound.token));  // a connection without a certificate
  EXPECT_NE(bound.key, ring.mint(sid).key);
  // An unbound token is accepted from any connection, with a certificate or not.
  auto plain = ring.mint(sid);
  EXPECT_EQ(ring.verify(plain.token, &mine), plain.key);
  // Rewriting the version byte does not unbind it.
  auto unbound = bound.token;
  unbound[1] = plain.token[1];
  unbound[0] = plain.token[0];
  EXPECT_FALSE(ring.verify(unbound));
  EXPECT_FALSE(ring.verify(unbound, &mine));
}

TEST(Token, EveryAlteredCharacterIsRefused) {
  keyring ring({key(1, 7)}, 1);
  auto token = ring.mint(random_session_id()).token;
  for (size_t i = 0; i < token.size(); ++i) {
    auto bad = token;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(ring.verify(bad)) << "position " << i;
  }
  EXPECT_FALSE(ring.verify(token.substr(1)));
  EXPECT_FALSE(ring.verify(token + "A"));
  EXPECT_FALSE(ring.verify(""));
  EXPECT_FALSE(ring.verify(std::string(token_text_bytes, '!')));
}

TEST(Token, ATokenFromAnotherKeyringIsRefused) {
  keyring ours({key(1, 7)}, 1);
  keyring theirs({key(1, 8)}, 1);
  EXPECT_FALSE(ours.verify(theirs.mint(random_session_id()).token));
}

TEST(Token, RotationKeepsOldTokensValid) {
  keyring before({key(1, 7)}, 1);
  auto old_token = before.mint(random_session_id()).token;
  keyring after({key(1, 7), key(2, 9)}, 2);
  EXPECT_TRUE(after.verify(old_token));
  auto new_token = after.mint(random_session_id()).token;
  EXPECT_TRUE(after.verify(new_token));
  EXPECT_FALSE(before.verify(new_token));  // key 2 unknown there
  keyring retired({key(2, 9)}, 2);
  EXPECT_FALSE(retired.verify(old_token));
}

TEST(Token, PrimaryMustBeAKnownKey) {
  EXPECT_THROW(keyring({key(1, 7)}, 2), std::invalid_argument);
}

TEST(Token, SessionDigestRoundTripsAndHoldsNeitherIdNorToken) {
  keyring ring({key(1, 7)}, 1);
  auto sid = random_session_id();
  auto minted = ring.mint(sid);
  auto digest = session_digest(minted.key);
  EXPECT_EQ(digest.size(), 32u);
  EXPECT_EQ(session_key_from_digest(digest), minted.key);
  EXPECT_EQ(minted.token.find(digest), std::string::npos);
  EXPECT_NE(digest, session_digest(sid));
  EXPECT_FALSE(session_key_from_digest("zz"));
  EXPECT_FALSE(session_key_from_digest(std::string(32, 'g')));
}

class KeyFileTest : public ::testing::Test {
 protected:
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("castellan-keys-" + std::to_string(::getpid()) + "-" +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::string path = (dir / "keys.json").string();
  void SetUp() override { std::filesystem::remove_all(dir); }
  void TearDown() override { std::filesystem::remove_all(dir); }
};

TEST_F(KeyFileTest, CreatedWithMode0600AndReloadsTheSameKeys) {
  auto first = load_or_create_key_file(path);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto token = first->mint(random_session_id()).token;
  auto second = load_or_create_key_file(path);
  EXPECT_TRUE(second->verify(token));  // a restart does not invalidate tokens
}

TEST_F(KeyFileTest, RotateThenRetire) {
  auto first = load_or_create_key_file(path);
  auto old_token = first->mint(random_session_id()).token;
  EXPECT_EQ(rotate_key_file(path, 60000), 2u);
  auto rotated = load_key_file(path);
  EXPECT_EQ(rotated.primary_id(), 2u);
  EXPECT_TRUE(rotated.verify(old_token));
  EXPECT_GT(rotated.keys().front().retire_at_ms, 0);  // key 1 retires after the grace
  EXPECT_THROW(retire_key(path, 2), key_file_error);  // primary
  retire_key(path, 1);
  EXPECT_FALSE(load_key_file(path).verify(old_token));
}

TEST_F(KeyFileTest, KeysPastTheirGraceAreNotInForceAndTheNextRotationDropsThem) {
  auto first = load_or_create_key_file(path);
  auto old_token = first->mint(random_session_id()).token;
  rotate_key_file(path, 0);  // no grace: key 1 retires now
  auto ring = load_key_file(path);
  EXPECT_TRUE(ring.verify(old_token));  // the file still has it...
  auto now = ring.keys().front().retire_at_ms;
  EXPECT_FALSE(ring.in_force(now).verify(old_token));  // ...but it is no longer in force
  EXPECT_TRUE(ring.in_force(now - 1).verify(old_token));
  rotate_key_file(path, 60000);
  auto after = load_key_file(path);
  ASSERT_EQ(after.keys().size(), 2u);  // 2 (retiring) and 3 (primary); 1 is gone
  EXPECT_EQ(after.keys()[0].id, 2u);
  EXPECT_EQ(after.primary_id(), 3u);
}

TEST_F(KeyFileTest, WorldReadableOrCorruptFileIsRefused) {
  load_or_create_key_file(path);
  ::chmod(path.c_str(), 0644);
  EXPECT_THROW(load_key_file(path), key_file_error);
  ::chmod(path.c_str(), 0600);
  { std::ofstream(path) << "{\"keys\": [{\"id\": 1, \"secret\": \"abc\"}], \"primary\": 1}"; }
  ::chmod(path.c_str(), 0600);
  EXPECT_THROW(load_key_file(path), key_file_error);
  { std::ofstream(path) << "not json"; }
  EXPECT_THROW(load_key_file(path), key_file_error);
  // A damaged file's error message must not quote the file (it holds secrets).
  { std::ofstream(path) << "{\"keys\": [{\"id\": 1, \"secret\": \"00112233445566778899aabbccddeeff"; }
  try {
    load_key_file(path);
    ADD_FAILURE() << "expected key_file_error";
  } catch (const key_file_error& e) {
    EXPECT_EQ(std::string(e.what()).find("00112233"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace castellan::net

namespace castellan::net {
namespace {

TEST(Token, DecoderAgreesWithLibsodiumOnManyTokens) {
  keyring ring({key(3, 1)}, 3);
  for (int i = 0; i < 2000; ++i) {
    auto minted = ring.mint(random_session_id());  // minted with libsodium's encoder
    auto back = ring.verify(minted.token);
    ASSERT_TRUE(back) << minted.token;
    ASSERT_EQ(*back, minted.key);
  }
}

TEST(Token, NonCanonicalLastCharacterIsRefused) {
  keyring ring({key(1, 7)}, 1);
  auto token = ring.mint(random_session_id()).token;
  // The last character encodes 2 bits of the MAC plus 4 zero bits; setting
  // a zero bit gives a different string for the same bytes: refuse it.
  static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  auto value = alphabet.find(token.back());
  ASSERT_EQ(value & 0x0f, 0u);
  auto bad = token;
  bad.back() = alphabet[value | 1];
  EXPECT_FALSE(ring.verify(bad));
}

}  // namespace
}  // namespace castellan::net
