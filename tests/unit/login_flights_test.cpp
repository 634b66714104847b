// Identical logins in flight share one check (actors/router/login_flights.hpp):
// which logins are "identical", who leads, who hears the outcome.
#include <algorithm>

#include <gtest/gtest.h>

#include "actors/router/login_flights.hpp"

namespace castellan::actors {
namespace {

struct silent_sink : net::reply_sink {
  bool gone = false;
  void deliver(std::string&&, size_t) override {}
  bool abandoned() const override { return gone; }
};

net::owed_ptr owe(const std::shared_ptr<silent_sink>& sink, uint64_t id) {
  return net::owe_one(sink, id, net::op_kind::login, nullptr, net::owed_replies::clock::now());
}

net::login_job job(uint64_t id, std::string user, std::string password, std::string ip = "") {
  return {id, std::move(user), std::move(password), std::move(ip), nullptr};
}

TEST(LoginFlights, OnlyTheSameUserAddressAndPasswordAreOneFlight) {
  login_flights flights;
  auto base = flights.digest_of(job(1, "alice", "secret", "10.0.0.1"));
  EXPECT_EQ(base, flights.digest_of(job(2, "alice", "secret", "10.0.0.1")));
  EXPECT_NE(base, flights.digest_of(job(1, "alice", "secreT", "10.0.0.1")));
  EXPECT_NE(base, flights.digest_of(job(1, "alice", "secret", "10.0.0.2")));
  EXPECT_NE(base, flights.digest_of(job(1, "bob", "secret", "10.0.0.1")));
  // Field boundaries count: moving bytes from one field to the next is another login.
  EXPECT_NE(flights.digest_of(job(1, "ab", "c")), flights.digest_of(job(1, "a", "bc")));
  // The digest is keyed: another node (another key) names the same login otherwise.
  login_flights other;
  EXPECT_NE(base, other.digest_of(job(1, "alice", "secret", "10.0.0.1")));
}

TEST(LoginFlights, LoginsJoinUntilTheFlightLandsThenANewOneLeads) {
  login_flights flights;
  auto sink = std::make_shared<silent_sink>();
  auto leader = job(1, "alice", "secret");
  auto d = flights.digest_of(leader);
  auto first = job(2, "alice", "secret");
  EXPECT_FALSE(flights.join(d, first, owe(sink, 2))) << "nothing in the air yet";
  auto generation = flights.lead(d, leader, owe(sink, 1));
  ASSERT_TRUE(generation);
  EXPECT_EQ(leader.password, "secret") << "the leader keeps its password for the check";
  auto joiner = job(3, "alice", "secret");
  EXPECT_TRUE(flights.join(d, joiner, owe(sink, 3)));
  EXPECT_TRUE(std::all_of(joiner.password.begin(), joiner.password.end(), [](char c) { return c == 0; }))
      << "a joiner's password is zeroed at once";
  auto late_leader = job(4, "alice", "secret");
  EXPECT_FALSE(flights.lead(d, late_leader, owe(sink, 4))) << "a second leader joins instead";

  EXPECT_TRUE(flights.land(d, *generation + 1).empty()) << "another generation's leader lands nothing";
  auto landed = flights.land(d, *generation);
  ASSERT_EQ(landed.size(), 3u);
  EXPECT_EQ(landed[0].job.request_id, 1u) << "the leader first";
  EXPECT_EQ(landed[1].job.request_id, 3u);
  EXPECT_EQ(landed[2].job.request_id, 4u);
  for (auto& login : landed)
    EXPECT_TRUE(login.job.password.empty()) << "the flight keeps no password";
  EXPECT_TRUE(flights.land(d, *generation).empty()) << "a flight lands once";
  auto after = job(5, "alice", "secret");
  EXPECT_FALSE(flights.join(d, after, owe(sink, 5))) << "after landing, a new flight starts";
  auto next = flights.lead(d, after, owe(sink, 5));
  ASSERT_TRUE(next);
  EXPECT_TRUE(flights.land(d, *generation).empty()) << "the old leader cannot land the new flight";
  EXPECT_EQ(flights.land(d, *next).size(), 1u);
}

TEST(LoginFlights, AFlightIsAbandonedOnlyWhenEveryLoginsConnectionHasGone) {
  login_flights flights;
  auto gone = std::make_shared<silent_sink>();
  auto staying = std::make_shared<silent_sink>();
  auto leader = job(1, "alice", "secret");
  auto d = flights.digest_of(leader);
  auto generation = flights.lead(d, leader, owe(gone, 1));
  ASSERT_TRUE(generation);
  auto joiner = job(2, "alice", "secret");
  ASSERT_TRUE(flights.join(d, joiner, owe(staying, 2)));
  gone->gone = true;
  EXPECT_FALSE(flights.abandoned(d, *generation)) << "the joiner still waits: the check must run";
  staying->gone = true;
  EXPECT_TRUE(flights.abandoned(d, *generation));
}

}  // namespace
}  // namespace castellan::actors
