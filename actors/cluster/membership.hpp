// Cluster membership as one member sees it: the state of every member, when
// this member (a joiner) may go up, and the two rings derived from the states
// (docs/cluster.md, "Membership" and "The ring"). A plain class with no CAF
// and no clock of its own: every call that depends on time takes `now`, so the
// cluster node actor feeds it events and does the I/O, and tests drive it
// without processes.
//
// The states, as this member sees another member (its own state only goes
// joining -> up, and either -> leaving; it never sees itself otherwise):
//
//   learned by gossip        handshake passed
//   ----------------> down ------------------> joining
//                      ^                          |
//                      |                          | its heartbeat says up (for itself:
//                      |                          | every up or suspect member handed over,
//                      |                          | or nobody up after down_after_ms)
//                      |                          v
//                      |  lost, or silent         up <------------.
//                      |  down_after_ms, by a     |                | heard again
//                      |  majority                |                |
//                      +--------------------------+                |
//                      |                          | silent suspect_after_ms,
//                      |                          v  or found down by too few
//                      +----------------------- suspect -----------'
//                         found down by a majority
//
//   joining, up --SIGTERM--> leaving --everything handed over, `leave` sent--> left
//
// Silence and a lost connection act on every state but `left` the same way
// as on `up` (drawn once). Down needs a majority: a member this one finds
// down (lost, or silent down_after_ms) stays suspect, keeping its ranges,
// until a majority of the members known, this one included, find it down
// (each heartbeat carries its sender's findings). Otherwise a partition
// that cuts only two members apart would give each the other's ranges
// while the third still routes to both. Down is sticky for an incarnation: a member heard
// again after a pause, a partition or a lost connection stays down, whatever
// it says of itself, until it comes back as a new incarnation. It learns
// that it must from the gossip (a heartbeat listing it down), or from its
// own clock (a pause of down_after_ms), and rejoins: joining, then up once
// every up member has handed it over again. A restarted process under a
// known name is a new incarnation too. `left` is final until it is admitted
// again.
//
// This member (self):
//
//   joining --every up member handed over--> up --SIGTERM--> leaving --> left
//      ^                                      |
//      +---- listed down by a member, --------+
//            or paused down_after_ms:
//            a new incarnation
//
// Leases: an up member answers owner reads only while a majority of the
// members it knows echoed one of its heartbeats sent after now -
// (down_after_ms - suspect_after_ms); none of them can have found it down
// before that heartbeat's time + down_after_ms.
//
// Rings: owners = members up or suspect (suspect keeps its ranges, to ride out
// a pause); holders = owners plus members joining (a joiner hears every write
// before it starts to own). Both leave out down, leaving and left members.
//
// Complete copies: after the holders change, a member that now holds a key
// it did not hold before has it only once the hand-over arrived. Every
// member reports the holders it has finished handing over to; when every
// other holder reported the current holders, they are `settled` here. A key
// is complete here if this member holds it now and held it in the settled
// ring (it heard every change since), or the current ring is the settled
// one. `intact` is the last settled ring from which no key was lost: a key
// none of whose holders there is a holder now was on members all gone, so
// nobody could hand it over, and no member has a complete copy of it
// (copy_complete in cluster_view.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "actors/runtime/ring.hpp"
#include "net/member_state.hpp"
#include "net/peer_messages.hpp"

namespace castellan::actors {

class membership {
 public:
  using clock = std::chrono::steady_clock;
  using milliseconds = std::chrono::milliseconds;

  struct settings {
    net::member_info self;            // this member's identity; its state starts joining
    std::vector<std::string> seeds;   // cluster addresses, host:port
    size_t replicas = 2;              // R
    milliseconds suspect_after{1000};
    milliseconds down_after{2000};
    milliseconds reconnect_interval{500};
  };

  // Another member: what this member knows of it. Its state is derived from
  // these facts by state_of(), never stored, so it cannot go stale.
  struct member {
    net::member_info info;         // as it last reported itself (state: its own word)
    net::member_load load;
    bool authenticated = false;    // passed the handshake with this process
    bool left = false;             // said `leave`
    bool lost = false;             // connection lost, or found silent, since last heard
    bool heartbeat_seen = false;   // its own report of its state has arrived
    bool handed_over = false;      // sent handover_done to this process
    bool reported_alive = false;   // learned by gossip, and the gossiper saw it alive
    // Found down (lost, or silent down_after_ms) while this incarnation: its
    // ranges were taken over, so this process may have missed changes. It
    // stays down, whatever it says, until it comes back as a new incarnation
    // through joining and hand-over.
    bool marked_down = false;
    uint64_t marked_incarnation = 0;
    uint64_t handed_for = 0;       // the holders it reported handing over to (its last word)
    // Members whose latest heartbeat says they find it down (this
    // incarnation): with this member's own finding, a majority confirms it.
    std::set<std::string> down_votes;
    int64_t their_stamp = 0;       // its latest heartbeat stamp: echoed back to it
    clock::time_point echoed{};    // the latest of our stamps it echoed: it heard us since
    clock::time_point heard{};     // its last message of any kind
    clock::time_point learned{};   // when gossip told of it
    int64_t heard_ms = 0;          // the same as `heard`, Unix ms (for /cluster)
  };

  // What a heartbeat taught.
  struct heartbeat_news {
    bool restarted = false;                // the sender is a new incarnation
    bool marked_down = false;              // the sender has this member (this incarnation) down
    std::vector<net::member_info> learned; // members met for the first time: connect to them
  };

  // What update_rings() changed. When the holders changed, a rebalance hands
  // the data from `before` to the new holders, then the new joiners hear
  // handover_done.
  struct ring_change {
    bool owners_changed = false;
    bool holders_changed = false;
    std::shared_ptr<const ring> before;    // previous holders, restarted members taken out
    std::vector<std::string> new_joiners;  // joining members that hold what they did not
    std::vector<std::string> confirmed_down;  // found down by a majority just now: marked down
  };

  membership(settings s, clock::time_point started);

  // -- this member ------------------------------------------------------------
  const std::string& name() const { return self_.name; }
  // Its identity with its current state.
  const net::member_info& self() const { return self_; }
  net::member_state self_state() const { return self_.state; }
  // Whether a joiner cannot be missing anything any more, so may own ranges.
  bool may_go_up(clock::time_point now) const;
  // Up or suspect members that have handed over to this member.
  size_t handed_over_count(clock::time_point now) const;
  void go_up() { self_.state = net::member_state::up; }
  // SIGTERM: out of both rings, so the next rebalance hands everything over.
  void start_leaving() { self_.state = net::member_state::leaving; }
  // Others took (or may have taken) this member's ranges over: it comes back
  // as `incarnation`, joining, and owns again only once every up member has
  // handed it over anew.
  void rejoin(uint64_t incarnation);
  // Until when this member may answer as an owner: while a majority of the
  // members it knows has heard it recently enough that none of them can
  // have taken its ranges over (docs/cluster.md, "Owner reads and leases").
  // A lone member (no other known) always may.
  clock::time_point lease_until(clock::time_point now) const;

  // -- events from other members ---------------------------------------------
  // `name` passed the handshake; `new_process`: a member already admitted,
  // now from another process (it restarted). False when `name` is this
  // member's own: a misconfigured peer, refused.
  bool admit(const std::string& name, const std::string& address, bool new_process,
             clock::time_point now, int64_t now_ms);
  // Any authenticated message from `name`.
  void heard(const std::string& name, clock::time_point now, int64_t now_ms);
  heartbeat_news heartbeat(const std::string& name, net::peer_heartbeat hb, clock::time_point now);
  void handed_over(const std::string& name);
  // `name` has finished handing over to the holders with this fingerprint
  // (every hand-over it sent before has been applied here).
  void reported_handed(const std::string& name, uint64_t holders_fingerprint);
  void left(const std::string& name);
  // The connection to `name` is lost; true when it was not already.
  bool lose(const std::string& name);
  // A new connection to an admitted member (same process).
  void reconnected(const std::string& name);
  // This process was paused: the others' silence was its own, not theirs.
  void forgive_silence(clock::time_point now);
  // Members silent past down_after_ms, not yet marked lost: now they are.
  std::vector<std::string> detect_down(clock::time_point now);

  // -- reading ------------------------------------------------------------------
  net::member_state state_of(const member& m, clock::time_point now) const;
  const std::map<std::string, member>& members() const { return members_; }
  const member* find(const std::string& name) const;
  // Authenticated and not lost: requests and writes may go to it.
  bool connected(const std::string& name) const;
  // Connected and not left: heartbeats and `leave` go to these.
  std::vector<std::string> in_touch() const;
  // This member and every other with this member's opinion of its state:
  // what a heartbeat gossips.
  std::vector<net::member_info> gossip(clock::time_point now) const;
  // Each member's latest heartbeat stamp, for this member's heartbeat.
  std::map<std::string, int64_t> echoes() const;
  // The members this member finds down itself, by incarnation: its vote,
  // for this member's heartbeat.
  std::map<std::string, uint64_t> found_down(clock::time_point now) const;
  // Seeds and known members this member is not connected to: dial these.
  // Of two members, only the one whose cluster address sorts first dials
  // (dials): when both dial at the same moment, CAF's middleman keeps on
  // each side the connection whose handshake it finished first, closes the
  // other as redundant, and may pick crosswise: both connections close and
  // every proxy of the peer dies. Addresses, not names, because a seed is
  // known only by its address until met. The other side dials too, as a
  // fallback, once the first has had its chance: a member not heard from for
  // down_after_ms, a seed not met within two reconnect intervals of this
  // process starting (it may not know of this member: a new node joining).
  std::vector<std::string> addresses_to_dial(clock::time_point now) const;
  bool dials(const std::string& address) const { return self_.address < address; }
  // For the majority rule (cluster_view::majority): members reachable, this
  // one included, and members known that have not left, counting seeds not
  // met yet (a member that restarts alone must not be a majority of one).
  size_t reachable_count(clock::time_point now) const;
  size_t known_count(clock::time_point now) const;

  // -- rings ----------------------------------------------------------------------
  // Marks down the members a majority found down, then recomputes both rings
  // from the states; bumps the epoch when either changed.
  ring_change update_rings(clock::time_point now);
  std::shared_ptr<const ring> owners() const { return owners_; }
  std::shared_ptr<const ring> holders() const { return holders_; }
  uint64_t epoch() const { return epoch_; }
  // The holders with each member's incarnation, as one number: what a
  // member reports it has handed over to (never 0).
  uint64_t holders_fingerprint() const;
  // Moves `settled` (and `intact`) to the current holders once every other
  // holder reported them; true when it moved.
  bool settle();
  // Null until the first settle, and again after a rejoin.
  std::shared_ptr<const ring> settled() const { return settled_; }
  std::shared_ptr<const ring> intact() const { return intact_; }

 private:
  member* entry(const std::string& name);  // find(), to change
  void mark_down(member& m);
  // No connection, or silent down_after_ms: this member's own finding.
  bool finds_down(const member& m, clock::time_point now) const;
  // Found down here and by enough members in touch to make a majority of
  // the members known (membership.hpp, "Down").
  bool majority_finds_down(const member& m, clock::time_point now) const;
  bool yields_to(const member& m, bool sender_majority, clock::time_point now) const;
  std::vector<std::string> ring_members(clock::time_point now, bool with_joiners) const;
  std::vector<std::string> joiners_new_to(const ring& before, const ring& after,
                                          clock::time_point now) const;

  settings cfg_;
  net::member_info self_;
  clock::time_point started_;
  std::map<std::string, member> members_;   // by name, never this member
  std::set<std::string> force_handover_;    // restarted while counted as holding data
  std::shared_ptr<const ring> owners_, holders_;
  std::shared_ptr<const ring> settled_, intact_;
  uint64_t epoch_ = 0;
};

// Whether some key held under `from` has none of its holders left in `to`:
// R (capped by the member count) of `from`'s members are gone.
bool loses_keys(const ring& from, const ring& to);

// Whether a member in `s` owns ranges (owners ring) / receives writes (holders).
constexpr bool owns_ranges(net::member_state s) {
  return s == net::member_state::up || s == net::member_state::suspect;
}
constexpr bool holds_data(net::member_state s) {
  return owns_ranges(s) || s == net::member_state::joining;
}

}  // namespace castellan::actors
