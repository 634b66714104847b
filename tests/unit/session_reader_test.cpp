// Validates answered on the reading thread (session_reader): the same answers
// the shard gives, user names and roles from the newest numbered snapshot,
// and the cases it must leave to the shard.
#include <thread>

#include <gtest/gtest.h>

#include "actors/directory/user_numbers.hpp"
#include "actors/sessions/session_reader.hpp"
#include "actors/sessions/session_shard.hpp"
#include "net/messages.hpp"
#include "net/request_stats.hpp"

namespace castellan::actors {
namespace {

config::users_table users_with(std::vector<config::user_record> records) {
  config::users_table t;
  for (auto& r : records)
    t.by_name[r.name] = r;
  return t;
}

struct reader_fixture {
  user_numbers numbers;
  std::shared_ptr<reader_epochs> epochs = std::make_shared<reader_epochs>(4);
  std::vector<std::shared_ptr<session_table>> tables;
  std::shared_ptr<const config::users_table> users;
  std::unique_ptr<session_reader> reader;

  reader_fixture() {
    config::sessions_config cfg;
    cfg.ttl_s = 10;
    for (int i = 0; i < 3; ++i)
      tables.push_back(std::make_shared<session_table>(cfg, epochs));
    users = numbers.number(users_with({{"alice", "$argon2id$x", {"trader", "risk"}, true, {}},
                                       {"bob", "$argon2id$y", {}, true, {}}}));
    reader = std::make_unique<session_reader>(tables, epochs, users);
  }
  session_table& owner(const net::session_key& key) {
    return *tables[shard_index(key, tables.size())];
  }
  net::session_key open(const std::string& name, int64_t now) {
    auto key = net::random_session_id();
    owner(key).restore(key, user_ref(users, users->find(name)), now, now + 10000);
    return key;
  }
};

struct answer {
  bool answered = false;
  uint8_t result = 0;
  std::optional<net::reply_view> reply;
};

answer validate(session_reader& reader, const net::session_key& key, int64_t now) {
  net::reply_buffer out;
  answer a;
  a.answered = reader.validate(net::session_op{7, net::op_kind::validate, 0, key}, now, out, a.result);
  auto frames = out.take();
  if (!frames.empty())
    a.reply = net::parse_reply(net::scan_frame(frames, 1 << 20).body);
  return a;
}

TEST(SessionReader, AnswersALiveSessionWithItsUserAndRoles) {
  reader_fixture f;
  auto key = f.open("alice", 1000);
  auto a = validate(*f.reader, key, 2000);
  ASSERT_TRUE(a.answered);
  ASSERT_TRUE(a.reply && a.reply->ok);
  EXPECT_EQ(a.result, net::result_ok);
  auto reply = a.reply->as<net::validate_reply>();
  EXPECT_EQ(reply.id, 7u);
  EXPECT_EQ(reply.user, "alice");
  EXPECT_EQ(reply.roles, (std::vector<std::string>{"trader", "risk"}));
  EXPECT_EQ(reply.expires_at_ms, 11000);
}

TEST(SessionReader, UnknownEndedAndExpiredSessionsAreAnsweredAsTheShardWould) {
  reader_fixture f;
  auto unknown = validate(*f.reader, net::random_session_id(), 1000);
  ASSERT_TRUE(unknown.answered && unknown.reply);
  EXPECT_EQ(unknown.reply->error, "invalid_token");
  EXPECT_EQ(unknown.result, net::result_of(net::error_code::invalid_token));

  auto key = f.open("bob", 1000);
  auto expired = validate(*f.reader, key, 11000);  // not yet swept: expired, as the shard says
  ASSERT_TRUE(expired.answered && expired.reply);
  EXPECT_EQ(expired.reply->error, "expired");

  auto refreshed = f.open("bob", 1000);
  f.owner(refreshed).extend(refreshed, 20000);
  EXPECT_TRUE(validate(*f.reader, refreshed, 15000).reply->ok);

  f.owner(refreshed).logout(refreshed);
  EXPECT_EQ(validate(*f.reader, refreshed, 15000).reply->error, "invalid_token");
}

TEST(SessionReader, NamesAndRolesComeFromTheNewestSnapshot) {
  reader_fixture f;
  auto key = f.open("alice", 1000);
  // A reload that changes alice's roles and adds a user before her: her
  // number stays hers.
  auto next = f.numbers.number(users_with({{"aaron", "$argon2id$z", {}, true, {}},
                                           {"alice", "$argon2id$x", {"admin"}, true, {}}}));
  EXPECT_EQ(next->find("alice")->id, f.users->find("alice")->id);
  f.reader->set_users(next);
  auto reply = validate(*f.reader, key, 2000).reply->as<net::validate_reply>();
  EXPECT_EQ(reply.user, "alice");
  EXPECT_EQ(reply.roles, (std::vector<std::string>{"admin"}));
}

TEST(SessionReader, ASessionOfADisabledOrRemovedUserIsLeftToTheShard) {
  reader_fixture f;
  auto alices = f.open("alice", 1000);
  auto bobs = f.open("bob", 1000);
  // alice disabled, bob removed: the shard ends their sessions when it
  // applies this snapshot; until then only it may answer.
  f.reader->set_users(f.numbers.number(
      users_with({{"alice", "$argon2id$x", {"trader"}, false, {}}})));
  EXPECT_FALSE(validate(*f.reader, alices, 2000).answered);
  EXPECT_FALSE(validate(*f.reader, bobs, 2000).answered);
}

TEST(SessionReader, AThreadWithoutAReaderSlotIsLeftToTheShard) {
  reader_fixture f;
  auto key = f.open("alice", 1000);
  // Four slots: this thread takes one, three more threads the rest.
  EXPECT_TRUE(validate(*f.reader, key, 2000).answered);
  std::vector<bool> answered(4);
  for (size_t i = 0; i < answered.size(); ++i)
    std::thread([&, i] { answered[i] = validate(*f.reader, key, 2000).answered; }).join();
  EXPECT_EQ(answered, (std::vector<bool>{true, true, true, false}));
  EXPECT_TRUE(validate(*f.reader, key, 2000).answered);  // this thread keeps its slot
}

TEST(UserNumbers, ANameKeepsItsNumberAcrossReloadsEvenWhileAbsent) {
  user_numbers numbers;
  auto first = numbers.number(users_with({{"alice", "h", {}, true, {}}, {"bob", "h", {}, true, {}}}));
  auto without_bob = numbers.number(users_with({{"alice", "h", {}, true, {}}}));
  auto bob_again = numbers.number(users_with({{"bob", "h", {}, true, {}}, {"carol", "h", {}, true, {}}}));
  EXPECT_NE(first->find("alice")->id, 0u);
  EXPECT_NE(first->find("alice")->id, first->find("bob")->id);
  EXPECT_EQ(without_bob->find("alice")->id, first->find("alice")->id);
  EXPECT_EQ(bob_again->find("bob")->id, first->find("bob")->id);
  EXPECT_NE(bob_again->find("carol")->id, first->find("alice")->id);
  EXPECT_NE(bob_again->find("carol")->id, first->find("bob")->id);
}

}  // namespace
}  // namespace castellan::actors
