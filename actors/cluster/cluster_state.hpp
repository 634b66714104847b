// The cluster node's state and the functions its two files share
// (cluster_node.cpp: membership and the handshake; cluster_traffic.cpp:
// forwarded requests, replication and limiter checks). Private to those two
// files: it pulls in CAF. Who is in what state is the membership object's
// (membership.hpp, no CAF); this state keeps the connections to members.
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/cluster/cluster_node.hpp"
#include "actors/runtime/fan_in.hpp"
#include "actors/cluster/cluster_metrics.hpp"
#include "actors/cluster/membership.hpp"

namespace castellan::actors::cluster_detail {

using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The connection to an admitted member: its cluster node and the key that
// authenticates its messages (both incarnations in the key).
struct member_link {
  caf::actor handle;              // its cluster node
  caf::node_id node;
  std::string pair_key;
  uint64_t pair_incarnation = 0;  // the member's incarnation the key is for
  uint64_t send_seq = 0;
  uint64_t recv_seq = 0;
};

struct pending_forward {
  std::string member;
  steady::time_point deadline;
  // ops: per sink, the connection and the ids sent for it.
  std::vector<net::owed_ptr> owed;
  std::vector<std::vector<uint64_t>> ids;
  // open: the token to put into the owner's reply.
  bool is_open = false;
  std::string token;
};

struct pending_limit {
  std::string member;
  steady::time_point deadline;
  limit_part part;  // dropped unanswered: the login hears `unavailable`
};

struct pending_revoke {
  std::string member;
  steady::time_point deadline;
  std::function<void(uint64_t, bool)> done;  // dropping it reports a failure
};

struct pending_ack {
  std::string member;
  steady::time_point deadline;
  fan_in<bool>::part part;  // this member's share of a replicate; dropped unanswered: failed
};

struct cluster_state {
  config::cluster_config cfg;
  actors::cluster_metrics* metrics = nullptr;
  std::string secret;
  cluster_host host;
  caf::io::middleman_actor dialer;                  // opens connections to members
  actors::membership members{{}, steady::now()};   // every member's state, the rings
  std::map<std::string, member_link> links;        // by member name, once admitted
  std::map<caf::node_id, std::string> authed;      // node -> member name
  // Our hellos waiting for a challenge: the nonce, and when it went out. One
  // unanswered after cluster.request_timeout_ms is forgotten, so the next
  // dial says hello again (a hello or its challenge can be lost with a
  // connection that closed as it formed).
  struct outgoing {
    std::string nonce;
    steady::time_point sent{};
  };
  std::map<caf::node_id, outgoing> hello_sent;
  // A hello answered with a challenge, waiting for the node's proof; `sent`
  // is when the first unanswered challenge went out (the tick refuses it
  // cluster.request_timeout_ms later). At most max_handshakes (oldest dropped).
  struct incoming {
    std::string hello_nonce, my_nonce, name, address;
    uint64_t incarnation = 0;
    steady::time_point sent{};
  };
  std::map<caf::node_id, incoming> challenged;
  // Nodes that failed the handshake lately, and when: their hellos get no
  // challenge (no proof) for refusal_quiet. At most max_handshakes.
  std::map<caf::node_id, steady::time_point> refused_nodes;
  // Per peer name (as logged): when its last refusal was logged, and how
  // many refusals were counted but not logged since. At most max_handshakes.
  struct refusal_log {
    steady::time_point at{};
    uint64_t unlogged = 0;
  };
  std::map<std::string, refusal_log> refusals_logged;
  std::set<std::string> connecting;                // addresses with a connect in flight
  std::set<caf::actor_addr> watched;               // peers' cluster nodes monitored (one monitor each)
  steady::time_point next_reconnect{};
  uint64_t next_batch = 1;
  std::map<uint64_t, pending_forward> forwards;
  std::map<uint64_t, pending_ack> acks;
  std::map<uint64_t, pending_limit> limits;
  std::map<uint64_t, pending_revoke> revokes;
  std::set<std::string> joiners_waiting;           // hand over to these when the rebalance is done
  // Hand-over runs in flight, by number, with the ring each started from;
  // joiners hear handover_done only once none is in flight or to be redone.
  uint64_t handover_runs = 0;
  std::map<uint64_t, std::shared_ptr<const actors::ring>> handovers;
  // A run that lost a shard's share is redone on the next tick, from the
  // ring it started from to the holders then (docs/cluster.md, "Change").
  bool handover_redo = false;
  std::shared_ptr<const actors::ring> redo_before;
  std::function<void()> on_left;                   // leave(): all peers acknowledged
  steady::time_point last_tick{};                  // a long gap: this process was paused
  // Hand-over records from each member still being applied here, and the
  // members whose handover_done waits for them: a member counts as having
  // handed over only once what it sent is in the tables, or a joiner could
  // go up and miss sessions it holds.
  std::map<std::string, uint64_t> applying;
  std::set<std::string> handed_waiting;
  // A member's latest report of the holders it handed over to, held back
  // the same way until what it sent is applied (membership::settle).
  std::map<std::string, uint64_t> reports_waiting;
  // The view last published, for what the actor decides itself (on_ops).
  cluster_view_ptr view;
  size_t leave_acks = 0;
  static inline const char* name = "cluster_node";
};

using self_ptr = caf::stateful_actor<cluster_state>*;

// Adds `n` to one of the cluster's counters (when metrics are on).
inline void count(const cluster_state& st, prometheus::Counter* actors::cluster_metrics::*which,
           double n = 1) {
  if (st.metrics && n > 0)
    (st.metrics->*which)->Increment(n);
}

// Sends `body` of `type` to a member that passed the handshake, with its
// sequence number and MAC.
void send_to(self_ptr self, member_link& to, std::string_view type, std::string body);

template <class Message>
void send_to(self_ptr self, const std::string& member, const Message& m) {
  auto it = self->state.links.find(member);
  if (it != self->state.links.end())
    send_to(self, it->second, Message::type, net::pack_peer(m));
}

// -- cluster_traffic.cpp: what members ask of each other -------------------------
void on_ops(self_ptr self, const std::string& member, const std::string& body);
void on_open(self_ptr self, const std::string& member, const std::string& body);
void on_replies(self_ptr self, const std::string& member, const std::string& body);
void on_replicate(self_ptr self, const std::string& member, const std::string& body);
void on_ack(self_ptr self, const std::string& member, const std::string& body);
void on_limit_check(self_ptr self, const std::string& member, const std::string& body);
void on_limit_decision(self_ptr self, const std::string& member, const std::string& body);
void on_limit_outcome(self_ptr self, const std::string& body);
void forward(self_ptr self, forward_ops& msg);
void forward_login(self_ptr self, forward_open& msg);
void replicate(self_ptr self, replicate_out& msg);
void check_limits_remotely(self_ptr self, limit_out& msg);
void teach_limits_remotely(self_ptr self, teach_out& msg);
void on_revoke(self_ptr self, const std::string& member, const std::string& body);
void on_revoke_done(self_ptr self, const std::string& member, const std::string& body);
void revoke_remotely(self_ptr self, revoke_out& msg);
void on_handover_done(self_ptr self, const std::string& member, const std::string& body);
void on_handover_applied(self_ptr self, const std::string& member);
// `member` reports it handed over to the holders `fingerprint`: counted once
// what it sent is applied; may settle this member's copies.
void note_report(self_ptr self, const std::string& member, uint64_t fingerprint);

// -- cluster_node.cpp: shared with the traffic --------------------------------------
void publish_view(self_ptr self);

}  // namespace castellan::actors::cluster_detail
