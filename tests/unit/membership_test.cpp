// Membership without processes: the state machine of actors/cluster/membership.hpp
// driven by hand-made events and a hand-moved clock, and the one table of
// state names the wire, the metrics and /cluster share (docs/cluster.md).
#include <algorithm>

#include <gtest/gtest.h>
#include <msgpack.hpp>

#include "actors/cluster/membership.hpp"
#include "net/member_state.hpp"
#include "net/peer_messages.hpp"

namespace castellan::actors {
namespace {

using namespace std::chrono_literals;
using net::member_state;
using clock = membership::clock;

const clock::time_point t0 = clock::time_point{} + 1h;

membership::settings settings_for(const std::string& name, std::vector<std::string> seeds = {}) {
  membership::settings s;
  s.self.name = name;
  s.self.address = name + ":7500";
  s.seeds = std::move(seeds);
  s.replicas = 2;
  s.suspect_after = 1000ms;
  s.down_after = 2000ms;
  return s;
}

net::peer_heartbeat heartbeat_of(const std::string& name, member_state state,
                                 uint64_t incarnation = 1) {
  net::peer_heartbeat hb;
  hb.self.name = name;
  hb.self.address = name + ":7500";
  hb.self.state = state;
  hb.self.incarnation = incarnation;
  return hb;
}

// Admits `name` and lets it report `state` at `at`.
void meet(membership& m, const std::string& name, member_state state, clock::time_point at) {
  ASSERT_TRUE(m.admit(name, name + ":7500", false, at, 1));
  m.heard(name, at, 1);
  m.heartbeat(name, heartbeat_of(name, state), at);
}

// `voter` (up, in touch) says in its heartbeat at `at` that it finds `who`
// (incarnation 1) down.
void finds_down(membership& m, const std::string& voter, const std::string& who, clock::time_point at,
                member_state voter_state = member_state::up) {
  m.heard(voter, at, 1);
  auto hb = heartbeat_of(voter, voter_state);
  hb.found_down[who] = 1;
  m.heartbeat(voter, hb, at);
}

// node-a up among `others`, all up at t0, its rings computed.
membership up_among(std::initializer_list<const char*> others) {
  membership m(settings_for("node-a"), t0);
  m.go_up();
  for (auto name : others)
    meet(m, name, member_state::up, t0);
  m.update_rings(t0);
  return m;
}

member_state state_seen(const membership& m, const std::string& name, clock::time_point now) {
  return m.state_of(*m.find(name), now);
}

std::vector<std::string> names(const std::shared_ptr<const ring>& r) {
  return r ? r->members() : std::vector<std::string>{};
}

// -- the name table -------------------------------------------------------------------

TEST(MemberStateNames, AreTheDocumentedOnesInOrder) {
  std::vector<std::string> seen;
  for (auto s : net::all_member_states)
    seen.emplace_back(net::to_string(s));
  EXPECT_EQ(seen,
            (std::vector<std::string>{"joining", "up", "suspect", "down", "leaving", "left"}));
}

TEST(MemberStateNames, RoundTrip) {
  for (auto s : net::all_member_states)
    EXPECT_EQ(net::member_state_from(net::to_string(s)), s);
  EXPECT_EQ(net::member_state_from("degraded"), std::nullopt);
  EXPECT_EQ(net::member_state_from(""), std::nullopt);
}

TEST(MemberStateNames, TravelAsStringsOnTheWire) {
  net::member_info info;
  info.name = "node-b";
  info.state = member_state::suspect;
  auto body = net::pack_peer(info);
  auto handle = msgpack::unpack(body.data(), body.size());
  auto map = handle.get().as<std::map<std::string, msgpack::object>>();
  EXPECT_EQ(map.at("state").as<std::string>(), "suspect");
  EXPECT_EQ(net::unpack_peer<net::member_info>(body).state, member_state::suspect);
}

TEST(MemberStateNames, AnUnknownNameOnTheWireReadsAsDown) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_map(2);
  pk.pack(std::string("name"));
  pk.pack(std::string("node-z"));
  pk.pack(std::string("state"));
  pk.pack(std::string("hibernating"));
  auto info = net::unpack_peer<net::member_info>(std::string(buf.data(), buf.size()));
  EXPECT_EQ(info.name, "node-z");
  EXPECT_EQ(info.state, member_state::down);
}

// -- a joiner going up ------------------------------------------------------------------

TEST(Membership, AJoinerGoesUpOnlyOnceEveryUpMemberHandedOver) {
  membership m(settings_for("node-a"), t0);
  meet(m, "node-b", member_state::up, t0);
  meet(m, "node-c", member_state::up, t0);
  EXPECT_EQ(m.self_state(), member_state::joining);
  EXPECT_FALSE(m.may_go_up(t0 + 10ms));
  m.handed_over("node-b");
  EXPECT_FALSE(m.may_go_up(t0 + 10ms));  // node-c has not handed over yet
  m.handed_over("node-c");
  EXPECT_TRUE(m.may_go_up(t0 + 10ms));
  EXPECT_EQ(m.handed_over_count(t0 + 10ms), 2u);
  m.go_up();
  EXPECT_EQ(m.self_state(), member_state::up);
  EXPECT_FALSE(m.may_go_up(t0 + 10ms));  // only a joiner goes up
}

TEST(Membership, AJoinerWaitsForAnAdmittedMembersFirstHeartbeat) {
  membership m(settings_for("node-a"), t0);
  ASSERT_TRUE(m.admit("node-b", "node-b:7500", false, t0, 1));
  m.heard("node-b", t0 + 5s, 1);
  EXPECT_FALSE(m.may_go_up(t0 + 5s));  // node-b's own state is unknown
  m.heartbeat("node-b", heartbeat_of("node-b", member_state::joining), t0 + 5s);
  EXPECT_TRUE(m.may_go_up(t0 + 5s));   // nobody up, and down_after_ms passed
}

TEST(Membership, TheFirstMemberWaitsADetectionPeriodThenGoesUp) {
  membership m(settings_for("node-a"), t0);
  EXPECT_FALSE(m.may_go_up(t0 + 1999ms));
  EXPECT_TRUE(m.may_go_up(t0 + 2000ms));
}

TEST(Membership, AJoinerWaitsToMeetAMemberOthersReportAlive) {
  membership m(settings_for("node-a"), t0);
  meet(m, "node-b", member_state::up, t0);
  auto hb = heartbeat_of("node-b", member_state::up);
  net::member_info c{"node-c", "node-c:7500", "", member_state::up, 1};
  hb.members = {hb.self, c};
  auto news = m.heartbeat("node-b", hb, t0);
  ASSERT_EQ(news.learned.size(), 1u);
  EXPECT_EQ(news.learned[0].name, "node-c");
  EXPECT_EQ(state_seen(m, "node-c", t0), member_state::down);  // until it answers us
  m.handed_over("node-b");
  EXPECT_FALSE(m.may_go_up(t0 + 100ms));  // node-c may be up and hold data
  m.heard("node-b", t0 + 2000ms, 1);
  EXPECT_TRUE(m.may_go_up(t0 + 2000ms));  // never met within down_after_ms: stop waiting
}

TEST(Membership, ASuspectMembersHandOverCountsAndADownOnesDoesNotBlock) {
  membership m(settings_for("node-a"), t0);
  meet(m, "node-b", member_state::up, t0);
  meet(m, "node-c", member_state::up, t0);
  m.handed_over("node-b");
  m.heard("node-b", t0 + 1500ms, 1);
  // node-c is silent: suspect still owns, so the joiner waits for it...
  EXPECT_EQ(state_seen(m, "node-c", t0 + 1500ms), member_state::suspect);
  EXPECT_FALSE(m.may_go_up(t0 + 1500ms));
  // ...until it is down (node-b finds so too): then it holds nothing to hand over.
  finds_down(m, "node-b", "node-c", t0 + 2500ms);
  EXPECT_EQ(state_seen(m, "node-c", t0 + 2500ms), member_state::down);
  EXPECT_TRUE(m.may_go_up(t0 + 2500ms));
}

// -- states and rings -----------------------------------------------------------------------

TEST(Membership, SilenceMakesSuspectThenDownOnceAMajorityFindsItAndHearingAgainUp) {
  membership m(settings_for("node-a"), t0);
  meet(m, "node-b", member_state::up, t0);
  meet(m, "node-c", member_state::up, t0);
  m.heard("node-c", t0 + 1900ms, 1);
  EXPECT_EQ(state_seen(m, "node-b", t0 + 999ms), member_state::up);
  EXPECT_EQ(state_seen(m, "node-b", t0 + 1000ms), member_state::suspect);
  EXPECT_EQ(state_seen(m, "node-b", t0 + 2000ms), member_state::suspect) << "node-c still hears it";
  finds_down(m, "node-c", "node-b", t0 + 2000ms);
  EXPECT_EQ(state_seen(m, "node-b", t0 + 2000ms), member_state::down);
  m.heard("node-b", t0 + 1500ms, 1);
  EXPECT_EQ(state_seen(m, "node-b", t0 + 1600ms), member_state::up);
}

// a and b cannot hear each other; c hears both. Each of a and b finds the
// other down, but not a majority: both keep their ranges in every view, so
// no key has two owners.
TEST(Membership, AMemberFoundDownByTooFewKeepsItsRanges) {
  auto m = up_among({"node-b", "node-c"});
  ASSERT_TRUE(m.lose("node-b"));
  m.heard("node-c", t0 + 3s, 1);
  m.heartbeat("node-c", heartbeat_of("node-c", member_state::up), t0 + 3s);  // it finds nobody down
  auto change = m.update_rings(t0 + 3s);
  EXPECT_TRUE(change.confirmed_down.empty());
  EXPECT_EQ(state_seen(m, "node-b", t0 + 3s), member_state::suspect);
  EXPECT_EQ(names(m.owners()), (std::vector<std::string>{"node-a", "node-b", "node-c"}));
  EXPECT_EQ(m.found_down(t0 + 3s), (std::map<std::string, uint64_t>{{"node-b", 1}}))
      << "its own finding goes out as its vote";
  EXPECT_EQ(m.reachable_count(t0 + 3s), 2u) << "it cannot reach node-b, whatever its ranges";
  // A vote from a member out of touch does not count either.
  finds_down(m, "node-c", "node-b", t0 + 3s);
  ASSERT_TRUE(m.lose("node-c"));
  EXPECT_EQ(state_seen(m, "node-b", t0 + 3s), member_state::suspect);
}

TEST(Membership, ASuspectMemberKeepsItsRanges) {
  membership m(settings_for("node-a"), t0);
  m.go_up();
  meet(m, "node-b", member_state::up, t0);
  m.update_rings(t0);
  auto change = m.update_rings(t0 + 1500ms);  // node-b suspect
  EXPECT_FALSE(change.owners_changed);
  EXPECT_FALSE(change.holders_changed);
  EXPECT_EQ(names(m.owners()), (std::vector<std::string>{"node-a", "node-b"}));
  EXPECT_EQ(names(m.holders()), (std::vector<std::string>{"node-a", "node-b"}));
}

TEST(Membership, ADownMemberLosesItsRangesOnceAMajorityLostIt) {
  auto m = up_among({"node-b", "node-c"});
  auto epoch = m.epoch();
  EXPECT_TRUE(m.lose("node-b"));   // its connection closed: no waiting for silence
  EXPECT_FALSE(m.lose("node-b"));  // once
  EXPECT_EQ(state_seen(m, "node-b", t0), member_state::suspect);
  finds_down(m, "node-c", "node-b", t0);  // node-c lost it too
  EXPECT_EQ(state_seen(m, "node-b", t0), member_state::down);
  auto change = m.update_rings(t0);
  EXPECT_EQ(change.confirmed_down, (std::vector<std::string>{"node-b"}));
  EXPECT_TRUE(change.owners_changed);
  EXPECT_TRUE(change.holders_changed);
  EXPECT_EQ(m.epoch(), epoch + 1);
  EXPECT_EQ(names(m.owners()), (std::vector<std::string>{"node-a", "node-c"}));
  EXPECT_EQ(names(m.holders()), (std::vector<std::string>{"node-a", "node-c"}));
  EXPECT_FALSE(m.connected("node-b"));
}

TEST(Membership, SilencePastDownAfterIsDetectedOnce) {
  membership m(settings_for("node-a"), t0);
  meet(m, "node-b", member_state::up, t0);
  EXPECT_TRUE(m.detect_down(t0 + 1999ms).empty());
  EXPECT_EQ(m.detect_down(t0 + 2000ms), (std::vector<std::string>{"node-b"}));
  EXPECT_TRUE(m.detect_down(t0 + 3000ms).empty());
}

// Down is sticky for an incarnation: a member heard again after a pause or a
// partition stays down, whatever it says of itself (it may have missed
// changes while others held its ranges), and it is told so by the gossip;
// it comes back only as a new incarnation, joining.
TEST(Membership, AMemberFoundDownComesBackOnlyAsANewIncarnation) {
  membership m(settings_for("node-a"), t0);
  m.go_up();
  meet(m, "node-b", member_state::up, t0);
  meet(m, "node-c", member_state::up, t0);
  m.heard("node-c", t0 + 2000ms, 1);
  ASSERT_EQ(m.detect_down(t0 + 2000ms), (std::vector<std::string>{"node-b"}));
  finds_down(m, "node-c", "node-b", t0 + 2000ms);
  m.update_rings(t0 + 2000ms);  // marked down: its ranges moved
  m.heard("node-c", t0 + 5000ms, 1);
  m.heard("node-b", t0 + 5000ms, 1);  // it speaks again (SIGCONT)
  m.heartbeat("node-b", heartbeat_of("node-b", member_state::up, 1), t0 + 5000ms);
  EXPECT_EQ(state_seen(m, "node-b", t0 + 5000ms), member_state::down);
  m.update_rings(t0 + 5000ms);
  EXPECT_EQ(names(m.owners()), (std::vector<std::string>{"node-a", "node-c"}));
  bool told = false;
  for (auto& info : m.gossip(t0 + 5000ms))
    told = told || (info.name == "node-b" && info.state == member_state::down && info.incarnation == 1);
  EXPECT_TRUE(told) << "its heartbeat tells node-b it is down, with the incarnation found down";
  m.heartbeat("node-b", heartbeat_of("node-b", member_state::joining, 2), t0 + 5200ms);
  EXPECT_EQ(state_seen(m, "node-b", t0 + 5200ms), member_state::joining);
  m.heartbeat("node-b", heartbeat_of("node-b", member_state::up, 2), t0 + 5400ms);
  EXPECT_EQ(state_seen(m, "node-b", t0 + 5400ms), member_state::up);
}

TEST(Membership, AConnectionLostToALiveProcessAlsoMakesItRejoin) {
  membership m(settings_for("node-a"), t0);
  meet(m, "node-b", member_state::up, t0);
  meet(m, "node-c", member_state::up, t0);
  ASSERT_TRUE(m.lose("node-b"));
  finds_down(m, "node-c", "node-b", t0 + 50ms);
  m.update_rings(t0 + 50ms);
  m.reconnected("node-b");
  m.heard("node-b", t0 + 100ms, 1);
  m.heartbeat("node-b", heartbeat_of("node-b", member_state::up, 1), t0 + 100ms);
  EXPECT_EQ(state_seen(m, "node-b", t0 + 100ms), member_state::down);
}

// This member learns from the gossip that it was found down, and rejoins:
// joining, with a new incarnation, owning nothing until handed over again.
TEST(Membership, ListedDownByAMemberThisOneRejoinsAndWaitsForTheHandOver) {
  auto s = settings_for("node-a");
  s.self.incarnation = 7;
  membership m(s, t0);
  meet(m, "node-b", member_state::up, t0);
  m.handed_over("node-b");
  ASSERT_TRUE(m.may_go_up(t0));
  m.go_up();
  auto hb = heartbeat_of("node-b", member_state::up);
  net::member_info me = m.self();
  me.state = member_state::down;
  hb.members.push_back(me);
  EXPECT_TRUE(m.heartbeat("node-b", hb, t0 + 100ms).marked_down);
  m.rejoin(8);
  EXPECT_EQ(m.self_state(), member_state::joining);
  EXPECT_EQ(m.self().incarnation, 8u);
  EXPECT_FALSE(m.may_go_up(t0 + 200ms)) << "node-b handed over to the old incarnation only";
  // A listing of an older incarnation says nothing about this one.
  EXPECT_FALSE(m.heartbeat("node-b", hb, t0 + 300ms).marked_down);
  m.handed_over("node-b");
  EXPECT_TRUE(m.may_go_up(t0 + 400ms));
}

// A healed minority lists the majority's members down; they found it down
// too and are the majority, so they do not rejoin: the minority does.
TEST(Membership, AMajorityMemberIgnoresBeingListedDownByAMemberItFoundDown) {
  auto s = settings_for("node-a");
  s.self.incarnation = 7;
  membership m(s, t0);
  m.go_up();
  meet(m, "node-b", member_state::up, t0);
  meet(m, "node-c", member_state::up, t0);
  m.heard("node-c", t0 + 2500ms, 1);
  ASSERT_EQ(m.detect_down(t0 + 2500ms), (std::vector<std::string>{"node-b"}));
  finds_down(m, "node-c", "node-b", t0 + 2500ms);
  m.update_rings(t0 + 2500ms);
  auto hb = heartbeat_of("node-b", member_state::up);
  net::member_info me = m.self();
  me.state = member_state::down;
  hb.members.push_back(me);
  m.heard("node-b", t0 + 2600ms, 1);
  hb.majority = false;  // node-b was alone
  EXPECT_FALSE(m.heartbeat("node-b", hb, t0 + 2600ms).marked_down);
  // Had node-b reached a majority too (it and node-c, while only node-a and
  // node-b were cut apart), the greater name yields: node-b, not node-a.
  hb.majority = true;
  EXPECT_FALSE(m.heartbeat("node-b", hb, t0 + 2700ms).marked_down);
  // node-c, which this member never found down, is believed.
  auto from_c = heartbeat_of("node-c", member_state::up);
  from_c.members.push_back(me);
  EXPECT_TRUE(m.heartbeat("node-c", from_c, t0 + 2600ms).marked_down);
}

// A paused process (SIGSTOP) finds everyone silent when it resumes: the
// silence was its own, so nobody is marked down for it.
TEST(Membership, ForgivenSilenceMarksNobodyDown) {
  membership m(settings_for("node-a"), t0);
  meet(m, "node-b", member_state::up, t0);
  m.forgive_silence(t0 + 5000ms);
  EXPECT_TRUE(m.detect_down(t0 + 5000ms).empty());
  EXPECT_EQ(state_seen(m, "node-b", t0 + 5000ms), member_state::up);
}

// The lease: while a majority of the members known echoes a recent stamp.
TEST(Membership, TheLeaseHoldsWhileAMajorityEchoedARecentHeartbeat) {
  membership m(settings_for("node-a"), t0);
  EXPECT_EQ(m.lease_until(t0), clock::time_point::max()) << "alone: a majority of one";
  meet(m, "node-b", member_state::up, t0);
  meet(m, "node-c", member_state::up, t0);
  EXPECT_LE(m.lease_until(t0), t0) << "nobody has echoed anything yet";
  auto echo = [&](const std::string& who, clock::time_point stamp, clock::time_point at) {
    auto hb = heartbeat_of(who, member_state::up);
    hb.echoes["node-a"] =
        std::chrono::duration_cast<std::chrono::milliseconds>(stamp.time_since_epoch()).count();
    m.heard(who, at, 1);
    m.heartbeat(who, hb, at);
  };
  echo("node-b", t0 + 100ms, t0 + 150ms);
  // Itself and node-b: 2 of 3. Lease: the stamp + (down_after - suspect_after).
  EXPECT_EQ(m.lease_until(t0 + 150ms), t0 + 100ms + 1000ms);
  echo("node-c", t0 + 300ms, t0 + 350ms);
  EXPECT_EQ(m.lease_until(t0 + 350ms), t0 + 300ms + 1000ms);  // the majority's newest
  // An echo of a stamp from the future (a confused peer) is ignored.
  echo("node-b", t0 + 10s, t0 + 400ms);
  EXPECT_EQ(m.lease_until(t0 + 400ms), t0 + 300ms + 1000ms);
  // Losing node-c's connection takes its echo away: node-b's is 100 ms old.
  m.lose("node-c");
  EXPECT_EQ(m.lease_until(t0 + 400ms), t0 + 100ms + 1000ms);
}

TEST(Membership, TheRingsAreWhatTheDocsSay) {
  // owners = up + suspect; holders = owners + joining; down, leaving, left in neither.
  membership m(settings_for("me"), t0);
  m.go_up();
  meet(m, "up", member_state::up, t0);
  meet(m, "suspect", member_state::up, t0 - 1500ms);
  meet(m, "joining", member_state::joining, t0);
  meet(m, "leaving", member_state::leaving, t0);
  meet(m, "down", member_state::up, t0);
  m.lose("down");
  for (auto voter : {"up", "joining", "leaving"})  // with this member, 4 of the 6 known
    finds_down(m, voter, "down", t0, *net::member_state_from(voter));
  meet(m, "left", member_state::up, t0);
  m.left("left");
  EXPECT_EQ(state_seen(m, "suspect", t0), member_state::suspect);
  EXPECT_EQ(state_seen(m, "leaving", t0), member_state::leaving);
  EXPECT_EQ(state_seen(m, "left", t0), member_state::left);
  m.update_rings(t0);
  EXPECT_EQ(names(m.owners()), (std::vector<std::string>{"me", "suspect", "up"}));
  EXPECT_EQ(names(m.holders()), (std::vector<std::string>{"joining", "me", "suspect", "up"}));
  EXPECT_EQ(m.owners()->replicas(), 2u);
  // Reachable: everyone not down or left; known: everyone not left.
  EXPECT_EQ(m.reachable_count(t0), 5u);
  EXPECT_EQ(m.known_count(t0), 6u);
}

TEST(Membership, AJoinerHoldsBeforeItOwnsAndIsToldWhenCurrent) {
  membership m(settings_for("node-a"), t0);
  m.go_up();
  m.update_rings(t0);
  meet(m, "node-b", member_state::joining, t0);
  auto change = m.update_rings(t0);
  EXPECT_FALSE(change.owners_changed);
  EXPECT_TRUE(change.holders_changed);
  EXPECT_EQ(names(change.before), (std::vector<std::string>{"node-a"}));
  EXPECT_EQ(change.new_joiners, (std::vector<std::string>{"node-b"}));
  EXPECT_EQ(names(m.owners()), (std::vector<std::string>{"node-a"}));
  EXPECT_EQ(names(m.holders()), (std::vector<std::string>{"node-a", "node-b"}));
  // It goes up: now it owns; nothing new to hand over.
  m.heartbeat("node-b", heartbeat_of("node-b", member_state::up), t0);
  change = m.update_rings(t0);
  EXPECT_TRUE(change.owners_changed);
  EXPECT_FALSE(change.holders_changed);
  EXPECT_EQ(names(m.owners()), (std::vector<std::string>{"node-a", "node-b"}));
}

TEST(Membership, TheEpochMovesOnlyWhenARingChanges) {
  membership m(settings_for("node-a"), t0);
  m.update_rings(t0);
  auto epoch = m.epoch();
  m.update_rings(t0 + 10ms);
  EXPECT_EQ(m.epoch(), epoch);
  m.go_up();
  m.update_rings(t0 + 20ms);
  EXPECT_EQ(m.epoch(), epoch + 1);
}

TEST(Membership, ALeavingMemberLeavesBothRingsThenIsLeft) {
  membership m(settings_for("node-a"), t0);
  m.go_up();
  meet(m, "node-b", member_state::up, t0);
  m.update_rings(t0);
  m.start_leaving();
  EXPECT_EQ(m.self_state(), member_state::leaving);
  auto change = m.update_rings(t0);
  EXPECT_TRUE(change.holders_changed);  // the rebalance hands everything to node-b
  EXPECT_EQ(names(m.owners()), (std::vector<std::string>{"node-b"}));
  EXPECT_EQ(names(m.holders()), (std::vector<std::string>{"node-b"}));
  // A peer that leaves: first leaving (its word), then left (its `leave`).
  m.heartbeat("node-b", heartbeat_of("node-b", member_state::leaving), t0);
  EXPECT_EQ(state_seen(m, "node-b", t0), member_state::leaving);
  m.left("node-b");
  EXPECT_EQ(state_seen(m, "node-b", t0 + 10s), member_state::left);
  EXPECT_TRUE(m.in_touch().empty());
  EXPECT_EQ(m.known_count(t0), 1u);  // a left member no longer counts towards a majority
  // Admitted again later: it joins afresh.
  ASSERT_TRUE(m.admit("node-b", "node-b:7500", true, t0 + 20s, 1));
  EXPECT_EQ(state_seen(m, "node-b", t0 + 20s), member_state::joining);
}

TEST(Membership, ARestartedMemberIsHandedEverythingAgain) {
  membership m(settings_for("node-a"), t0);
  m.go_up();
  meet(m, "node-b", member_state::up, t0);
  m.handed_over("node-b");
  m.update_rings(t0);
  auto news = m.heartbeat("node-b", heartbeat_of("node-b", member_state::up, 2), t0 + 10ms);
  EXPECT_TRUE(news.restarted);
  auto change = m.update_rings(t0 + 10ms);
  EXPECT_TRUE(change.holders_changed);
  EXPECT_EQ(names(change.before), (std::vector<std::string>{"node-a"}));  // as if it just joined
  EXPECT_EQ(m.handed_over_count(t0 + 10ms), 0u);
}

// -- complete copies ----------------------------------------------------------------

TEST(Membership, CopiesSettleOnceEveryOtherHolderReportedTheCurrentHolders) {
  auto m = up_among({"node-b", "node-c"});
  EXPECT_FALSE(m.settle());
  EXPECT_EQ(m.settled(), nullptr);
  uint64_t fp = m.holders_fingerprint();
  m.reported_handed("node-b", fp);
  EXPECT_FALSE(m.settle()) << "node-c has not reported";
  m.reported_handed("node-c", fp + 1);
  EXPECT_FALSE(m.settle()) << "a report of other holders does not count";
  m.reported_handed("node-c", fp);
  EXPECT_TRUE(m.settle());
  EXPECT_EQ(m.settled(), m.holders());
  EXPECT_EQ(m.intact(), m.holders());
  EXPECT_FALSE(m.settle()) << "moves once";
}

TEST(Membership, TheFingerprintTellsARestartedHolderFromItsOldProcess) {
  membership m(settings_for("node-a"), t0);
  m.go_up();
  meet(m, "node-b", member_state::up, t0);
  m.update_rings(t0);
  uint64_t old_fp = m.holders_fingerprint();
  m.heartbeat("node-b", heartbeat_of("node-b", member_state::joining, 2), t0 + 10ms);
  m.update_rings(t0 + 10ms);
  EXPECT_NE(m.holders_fingerprint(), old_fp);
  m.reported_handed("node-b", old_fp);
  EXPECT_FALSE(m.settle());
  m.reported_handed("node-b", m.holders_fingerprint());
  EXPECT_TRUE(m.settle());
}

// R = 2 holders of some keys died together: settling without them keeps
// the last intact ring, so those keys stay known as lost until one of their
// holders is back and has handed over.
TEST(Membership, LosingRHoldersAtOnceIsRememberedUntilOneIsBack) {
  auto m = up_among({"node-b", "node-c", "node-d", "node-e"});
  auto report_all = [&] {
    for (auto& name : m.holders()->members())
      if (name != "node-a")
        m.reported_handed(name, m.holders_fingerprint());
  };
  report_all();
  ASSERT_TRUE(m.settle());
  auto all = m.holders();
  m.lose("node-b");
  m.lose("node-c");
  for (auto voter : {"node-d", "node-e"}) {
    auto hb = heartbeat_of(voter, member_state::up);
    hb.found_down = {{"node-b", 1}, {"node-c", 1}};
    m.heartbeat(voter, hb, t0 + 1ms);
  }
  m.update_rings(t0 + 1ms);
  ASSERT_EQ(names(m.holders()), (std::vector<std::string>{"node-a", "node-d", "node-e"}));
  EXPECT_FALSE(m.settle());
  report_all();
  EXPECT_TRUE(m.settle());
  EXPECT_EQ(m.settled(), m.holders());
  EXPECT_EQ(m.intact(), all) << "keys only node-b and node-c held are on nobody";
  ASSERT_TRUE(m.admit("node-b", "", true, t0 + 2s, 2));
  m.heartbeat("node-b", heartbeat_of("node-b", member_state::joining, 2), t0 + 2s);
  m.update_rings(t0 + 2s);
  EXPECT_FALSE(m.settle());
  report_all();
  EXPECT_TRUE(m.settle());
  EXPECT_EQ(names(m.intact()), (std::vector<std::string>{"node-a", "node-b", "node-d", "node-e"}))
      << "one of every key's two holders is back: nothing is lost any more";
}

TEST(Membership, ARejoinForgetsWhatWasSettled) {
  membership m(settings_for("node-a"), t0);
  m.go_up();
  m.update_rings(t0);
  ASSERT_TRUE(m.settle());
  m.rejoin(2);
  EXPECT_EQ(m.settled(), nullptr);
}

// node-b's process died and only node-a noticed before it came back: its
// ranges never moved, but the new process has only its own log, so it is
// handed everything it holds, as if it had just joined.
TEST(Membership, AProcessLostByTooFewThatRestartsIsHandedEverythingAgain) {
  auto m = up_among({"node-b", "node-c"});
  ASSERT_TRUE(m.lose("node-b"));
  m.update_rings(t0 + 10ms);
  ASSERT_EQ(names(m.holders()), (std::vector<std::string>{"node-a", "node-b", "node-c"}));
  ASSERT_TRUE(m.admit("node-b", "", true, t0 + 1s, 2));
  m.heartbeat("node-b", heartbeat_of("node-b", member_state::joining, 2), t0 + 1s);
  auto change = m.update_rings(t0 + 1s);
  EXPECT_TRUE(change.holders_changed);
  EXPECT_EQ(names(change.before), (std::vector<std::string>{"node-a", "node-c"}));
  EXPECT_EQ(change.new_joiners, (std::vector<std::string>{"node-b"}));
}

TEST(Membership, ANewProcessUnderAKnownNameJoinsAfresh) {
  membership m(settings_for("node-a"), t0);
  meet(m, "node-b", member_state::up, t0);
  m.handed_over("node-b");
  ASSERT_TRUE(m.admit("node-b", "", true, t0 + 1s, 2));
  EXPECT_EQ(state_seen(m, "node-b", t0 + 1s), member_state::joining);
  EXPECT_EQ(m.find("node-b")->info.address, "node-b:7500");  // kept: none given
  EXPECT_FALSE(m.may_go_up(t0 + 1s));  // its first heartbeat is awaited again
}

TEST(Membership, ItsOwnNameIsRefused) {
  membership m(settings_for("node-a"), t0);
  EXPECT_FALSE(m.admit("node-a", "elsewhere:7500", false, t0, 1));
  EXPECT_TRUE(m.members().empty());
}

TEST(Membership, UnmetSeedsCountTowardsTheMajority) {
  membership m(settings_for("node-a", {"node-a:7500", "node-b:7500", "node-c:7500"}), t0);
  EXPECT_EQ(m.known_count(t0), 3u);  // itself and two seeds it has not met
  EXPECT_EQ(m.reachable_count(t0), 1u);
  meet(m, "node-b", member_state::up, t0);
  EXPECT_EQ(m.known_count(t0), 3u);
  EXPECT_EQ(m.reachable_count(t0), 2u);
}

TEST(Membership, ItDialsSeedsAndKnownMembersItIsNotConnectedTo) {
  membership m(settings_for("node-a", {"node-a:7500", "node-b:7500", "node-c:7500"}), t0);
  EXPECT_EQ(m.addresses_to_dial(t0), (std::vector<std::string>{"node-b:7500", "node-c:7500"}));
  meet(m, "node-b", member_state::up, t0);
  EXPECT_EQ(m.addresses_to_dial(t0), (std::vector<std::string>{"node-c:7500"}));
  m.lose("node-b");
  EXPECT_EQ(m.addresses_to_dial(t0), (std::vector<std::string>{"node-b:7500", "node-c:7500"}));
}

// Two members must not dial each other at once: the one whose address sorts
// first does; the other waits down_after_ms for it.
TEST(Membership, OfTwoMembersTheFirstByAddressDials) {
  membership m(settings_for("node-b", {"node-a:7500", "node-b:7500", "node-c:7500"}), t0);
  meet(m, "node-a", member_state::up, t0);
  meet(m, "node-c", member_state::up, t0);
  m.lose("node-a");
  m.lose("node-c");
  EXPECT_EQ(m.addresses_to_dial(t0), (std::vector<std::string>{"node-c:7500"}));
  EXPECT_TRUE(m.dials("node-c:7500"));
  EXPECT_FALSE(m.dials("node-a:7500"));
  // node-a has not dialed for down_after_ms (it may not know of node-b):
  auto later = t0 + 2000ms;
  EXPECT_EQ(m.addresses_to_dial(later), (std::vector<std::string>{"node-a:7500", "node-c:7500"}));
}

// The rule holds for seeds not met yet, known only by address: a process
// that starts dials the seeds after it at once, those before it only once
// they had two reconnect intervals to dial it (a new node they do not know).
TEST(Membership, ASeedThatSortsFirstIsGivenTheChanceToDial) {
  auto s = settings_for("node-b", {"node-a:7500", "node-b:7500", "node-c:7500"});
  s.reconnect_interval = 500ms;
  membership m(s, t0);
  EXPECT_EQ(m.addresses_to_dial(t0), (std::vector<std::string>{"node-c:7500"}));
  EXPECT_EQ(m.addresses_to_dial(t0 + 999ms), (std::vector<std::string>{"node-c:7500"}));
  EXPECT_EQ(m.addresses_to_dial(t0 + 1000ms),
            (std::vector<std::string>{"node-a:7500", "node-c:7500"}));
  // It dialed node-b in time: connected, so neither is dialed.
  meet(m, "node-a", member_state::up, t0 + 300ms);
  EXPECT_EQ(m.addresses_to_dial(t0 + 1000ms), (std::vector<std::string>{"node-c:7500"}));
}

TEST(Membership, GossipCarriesThisMembersOpinion) {
  membership m(settings_for("node-a"), t0);
  meet(m, "node-b", member_state::up, t0);
  auto list = m.gossip(t0 + 1500ms);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "node-a");
  EXPECT_EQ(list[0].state, member_state::joining);
  EXPECT_EQ(list[1].name, "node-b");
  EXPECT_EQ(list[1].state, member_state::suspect);
}

}  // namespace
}  // namespace castellan::actors
