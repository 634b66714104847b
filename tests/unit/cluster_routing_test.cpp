// Where a cluster member sends each request, as docs/cluster.md describes it,
// decided from one view of the cluster without any process or socket: ops go
// to the key's owner (reads marked local to any holder), refreshes stop on the
// minority side of a partition, nothing is served while nobody owns, and a
// change replicates to every other holder under either ring, once each.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "actors/cluster/cluster_backend.hpp"
#include "actors/limiter/limiter_link.hpp"
#include "net/token.hpp"

namespace castellan::actors {
namespace {

using net::op_kind;
const auto now = std::chrono::steady_clock::now();

std::shared_ptr<const ring> ring_of(std::vector<std::string> members, size_t replicas = 2) {
  return std::make_shared<const ring>(std::move(members), replicas);
}

// `self`'s view: `owners` serve, `holders` receive writes (owners + joiners).
// `self` is up (serving) unless told otherwise; its lease holds.
cluster_view view_of(const std::string& self, std::vector<std::string> owners,
                     std::vector<std::string> holders, size_t reachable = 3, size_t known = 3,
                     net::member_state self_state = net::member_state::up) {
  cluster_view v;
  v.self = self;
  monitor::member_status me;
  me.info.name = self;
  me.info.state = self_state;
  v.members.push_back(me);
  v.owners = ring_of(std::move(owners));
  v.holders = ring_of(std::move(holders));
  v.settled = v.intact = v.holders;  // nothing moving: every copy here is complete
  v.reachable = reachable;
  v.known = known;
  return v;
}

const std::string& owner_in(const ring& r, uint64_t h) { return r.members()[r.owner(h)]; }
bool holder_in(const ring& r, const std::string& name, uint64_t h) {
  int i = r.index_of(name);
  return i >= 0 && r.holds(h, static_cast<uint32_t>(i));
}
std::vector<uint64_t> sample_keys(int n = 300) {
  std::vector<uint64_t> out;
  for (int i = 0; i < n; ++i)
    out.push_back(ring_hash(net::random_session_id()));
  return out;
}
std::set<std::string> names(const std::vector<const std::string*>& members) {
  std::set<std::string> out;
  for (auto* m : members)
    out.insert(*m);
  return out;
}

const std::vector<std::string> abc = {"node-a", "node-b", "node-c"};

// -- session ops and logins ----------------------------------------------------

TEST(ClusterRouting, AKeyThisMemberOwnsIsAnsweredHereAndAnyOtherGoesToItsOwner) {
  auto v = view_of("node-a", abc, abc);
  int here = 0;
  for (auto h : sample_keys()) {
    bool mine = owner_in(*v.owners, h) == "node-a";
    for (auto kind : {op_kind::validate, op_kind::refresh, op_kind::logout})
      EXPECT_EQ(route_session_op(v, kind, false, h, now), mine ? op_route::here : op_route::owner);
    EXPECT_EQ(route_open(v, h), mine ? open_route::here : open_route::owner);  // a new session
    if (!mine) {
      EXPECT_EQ(v.owner_of(h), owner_in(*v.owners, h));
    }
    here += mine;
  }
  EXPECT_GT(here, 50);  // about a third of the keys
  EXPECT_LT(here, 150);
}

TEST(ClusterRouting, ALocalReadIsAnsweredByAnyHolderButWritesGoToTheOwner) {
  auto v = view_of("node-a", abc, abc);
  int replica_reads = 0;
  for (auto h : sample_keys()) {
    if (owner_in(*v.owners, h) == "node-a")
      continue;
    bool copy_here = holder_in(*v.holders, "node-a", h);
    EXPECT_EQ(route_session_op(v, op_kind::validate, true, h, now),
              copy_here ? op_route::here : op_route::owner);
    EXPECT_EQ(route_session_op(v, op_kind::validate, false, h, now), op_route::owner);
    EXPECT_EQ(route_session_op(v, op_kind::refresh, false, h, now), op_route::owner);
    replica_reads += copy_here;
  }
  EXPECT_GT(replica_reads, 0);
}

TEST(ClusterRouting, WhileNoMemberOwnsSessionsNothingIsServedFromAStaleCopy) {
  auto v = view_of("node-a", {}, abc);  // everyone is still joining
  for (auto h : sample_keys(20)) {
    for (auto kind : {op_kind::validate, op_kind::refresh, op_kind::logout}) {
      EXPECT_EQ(route_session_op(v, kind, false, h, now), op_route::refuse_unowned);
      EXPECT_EQ(route_session_op(v, kind, true, h, now), op_route::refuse_unowned);
    }
    EXPECT_EQ(route_open(v, h), open_route::refuse_unowned);
    EXPECT_EQ(remote_owner(v, h), "");  // the limiter checks here; logins are refused anyway
  }
}

TEST(ClusterRouting, OnTheMinoritySideRefreshesAreRefusedWhileValidateAndLogoutStillWork) {
  auto v = view_of("node-a", abc, abc, /*reachable=*/1, /*known=*/3);
  ASSERT_FALSE(v.majority());
  for (auto h : sample_keys(50)) {
    bool mine = owner_in(*v.owners, h) == "node-a";
    EXPECT_EQ(route_session_op(v, op_kind::refresh, false, h, now), op_route::refuse_minority);
    EXPECT_EQ(route_session_op(v, op_kind::validate, false, h, now), mine ? op_route::here : op_route::owner);
    EXPECT_EQ(route_session_op(v, op_kind::logout, false, h, now), mine ? op_route::here : op_route::owner);
  }
  auto two_of_three = view_of("node-a", abc, abc, 2, 3);
  EXPECT_NE(route_session_op(two_of_three, op_kind::refresh, false, sample_keys(1)[0], now),
            op_route::refuse_minority);
}

// A member whose lease lapsed (a majority has not heard it lately) may have
// been taken over: it answers no owner read and no refresh for the keys it
// owned; a logout (never unsafe) and a local read (any copy, by choice)
// are answered here, but only where the session is found: others may have
// opened sessions it never heard of.
TEST(ClusterRouting, WithItsLeaseLapsedAnOwnerRefusesOwnerReadsAndRefreshes) {
  auto v = view_of("node-a", abc, abc);
  v.lease_until = now - std::chrono::milliseconds(1);
  int mine_seen = 0;
  for (auto h : sample_keys(100)) {
    bool mine = owner_in(*v.owners, h) == "node-a";
    mine_seen += mine;
    auto owned = [&](op_route r) { return mine ? r : op_route::owner; };
    EXPECT_EQ(route_session_op(v, op_kind::validate, false, h, now), owned(op_route::refuse_lapsed));
    EXPECT_EQ(route_session_op(v, op_kind::refresh, false, h, now), owned(op_route::refuse_lapsed));
    EXPECT_EQ(route_session_op(v, op_kind::logout, false, h, now), owned(op_route::here_confirm_only));
    if (holder_in(*v.holders, "node-a", h)) {
      EXPECT_EQ(route_session_op(v, op_kind::validate, true, h, now), op_route::here_confirm_only);
    }
  }
  EXPECT_GT(mine_seen, 0);
  v.lease_until = now + std::chrono::milliseconds(1);
  for (auto h : sample_keys(100)) {
    if (owner_in(*v.owners, h) == "node-a") {
      EXPECT_EQ(route_session_op(v, op_kind::validate, false, h, now), op_route::here);
    }
  }
}

// A joining member (just started, or back as a new incarnation after others
// found it down) is still receiving its copies: its local reads go to the owner.
TEST(ClusterRouting, AJoiningMembersLocalReadsGoToTheOwner) {
  auto v = view_of("node-a", {"node-b", "node-c"}, abc, 3, 3, net::member_state::joining);
  int copies = 0;
  for (auto h : sample_keys(100)) {
    copies += holder_in(*v.holders, "node-a", h);
    EXPECT_EQ(route_session_op(v, op_kind::validate, true, h, now), op_route::owner);
  }
  EXPECT_GT(copies, 0);
}

// node-b died: node-a now holds keys node-b and node-c held, and has them
// only once node-c's hand-over arrives. Until then its local reads of those
// go to the owner, which is node-c (the surviving holder scores highest).
TEST(ClusterRouting, ALocalReadOfAKeyStillBeingHandedOverGoesToTheOwner) {
  auto v = view_of("node-a", {"node-a", "node-c"}, {"node-a", "node-c"});
  auto before = ring_of({"node-a", "node-b", "node-c"});
  v.settled = v.intact = before;
  int moving = 0;
  for (auto h : sample_keys()) {
    auto route = route_session_op(v, op_kind::validate, true, h, now);
    if (holder_in(*before, "node-a", h)) {
      EXPECT_EQ(route, op_route::here);
      continue;
    }
    ++moving;
    EXPECT_FALSE(v.complete(h));
    ASSERT_EQ(route, op_route::owner);
    EXPECT_EQ(v.owner_of(h), "node-c") << "the new owner is the holder that survived";
  }
  EXPECT_GT(moving, 0);
  v.settled = v.holders;  // node-c reported its hand-over: settled
  for (auto h : sample_keys())
    EXPECT_EQ(route_session_op(v, op_kind::validate, true, h, now), op_route::here);
}

// Five members; node-b and node-c died together. The keys only they held
// are on nobody: the member that owns them now says unavailable, never
// "no such session", and its local reads of them do not answer either.
TEST(ClusterRouting, AKeyAllOfWhoseHoldersAreDownIsRefusedNotCalledInvalid) {
  std::vector<std::string> alive{"node-a", "node-d", "node-e"};
  auto all = ring_of({"node-a", "node-b", "node-c", "node-d", "node-e"});
  int lost = 0;
  for (auto& self : alive) {
    auto v = view_of(self, alive, alive);
    v.intact = all;  // settled after the deaths, but the loss is remembered
    for (auto h : sample_keys(2000)) {
      auto place = all->place(h);
      std::set<std::string> held{all->members()[place[0]], all->members()[place[1]]};
      bool gone = held == std::set<std::string>{"node-b", "node-c"};
      EXPECT_EQ(v.complete(h), v.holds(h) && !gone);
      if (!gone || !v.owns(h))
        continue;
      ++lost;
      for (auto kind : {op_kind::validate, op_kind::refresh, op_kind::logout})
        EXPECT_EQ(route_session_op(v, kind, false, h, now), op_route::refuse_incomplete);
      EXPECT_EQ(route_session_op(v, op_kind::validate, true, h, now), op_route::refuse_incomplete);
    }
  }
  EXPECT_GT(lost, 0);
}

TEST(ClusterRouting, NothingIsCompleteBeforeTheFirstSettle) {
  auto v = view_of("node-a", {"node-a", "node-b"}, {"node-a", "node-b"});
  v.settled = v.intact = nullptr;
  for (auto h : sample_keys(50)) {
    EXPECT_FALSE(v.complete(h));
    EXPECT_EQ(route_session_op(v, op_kind::validate, false, h, now),
              v.owns(h) ? op_route::refuse_incomplete : op_route::owner);
  }
}

TEST(ClusterRouting, LimiterKeysAreCheckedOnTheirOwner) {
  auto v = view_of("node-b", abc, abc);
  for (int i = 0; i < 100; ++i) {
    uint64_t h = limiter_ring_hash({key_kind::ip, "10.0.0." + std::to_string(i)});
    auto owner = owner_in(*v.owners, h);
    EXPECT_EQ(remote_owner(v, h), owner == "node-b" ? "" : owner);
  }
}

// -- replication -----------------------------------------------------------------

TEST(ClusterRouting, AChangeGoesToEveryOtherHolderUnderEitherRingOnce) {
  // node-d is joining: it holds (hears writes) before it owns.
  auto v = view_of("node-a", abc, {"node-a", "node-b", "node-c", "node-d"});
  int to_joiner = 0;
  for (auto h : sample_keys()) {
    auto targets = replica_targets(v, h);
    std::set<std::string> expected;
    for (auto* r : {v.holders.get(), v.owners.get()})
      for (auto i : r->place(h))
        if (r->members()[i] != "node-a")
          expected.insert(r->members()[i]);
    EXPECT_EQ(names(targets), expected);
    EXPECT_EQ(targets.size(), expected.size()) << "a member named twice";
    to_joiner += expected.count("node-d") > 0;
  }
  EXPECT_GT(to_joiner, 0);
}

TEST(ClusterRouting, ALeavingMemberStillSendsWhatItChangesToEveryHolder) {
  auto v = view_of("node-a", {"node-b", "node-c"}, {"node-b", "node-c"});
  for (auto h : sample_keys(20))
    EXPECT_EQ(names(replica_targets(v, h)), (std::set<std::string>{"node-b", "node-c"}));
}

TEST(ClusterRouting, AloneThereIsNobodyToReplicateTo) {
  auto v = view_of("node-a", {"node-a"}, {"node-a"});
  for (auto h : sample_keys(20))
    EXPECT_TRUE(replica_targets(v, h).empty());
}

TEST(ClusterRouting, SessionChangesReplicateUnderTheirSessionAndLockoutsUnderTheirKey) {
  auto key = net::random_session_id();
  for (auto kind : {net::event_kind::login_ok, net::event_kind::refresh, net::event_kind::logout}) {
    auto e = net::make_event(kind, "node-a");
    e.session = net::session_digest(key);
    EXPECT_EQ(replication_hash(e), ring_hash(key)) << e.kind;
  }
  auto lockout = net::make_event(net::event_kind::lockout_started, "node-a");
  lockout.reason = "user_ip";
  lockout.user = "alice";
  lockout.ip = "10.0.0.7";
  EXPECT_EQ(replication_hash(lockout), limiter_ring_hash({key_kind::user_ip, "alice|10.0.0.7"}));
  // Expiry is each holder's own sweep; failures and refusals concern no copy.
  auto swept = net::make_event(net::event_kind::session_expired, "node-a");
  swept.session = net::session_digest(key);
  EXPECT_FALSE(replication_hash(swept));
  EXPECT_FALSE(replication_hash(net::make_event(net::event_kind::login_failed, "node-a")));
  auto garbled = net::make_event(net::event_kind::login_ok, "node-a");
  garbled.session = "zz";
  EXPECT_FALSE(replication_hash(garbled));
}

}  // namespace
}  // namespace castellan::actors
