// The cluster node: one actor per authd, published on the cluster port with
// CAF's middleman. It is membership (joining through seeds, the secret
// handshake, heartbeats, suspect/down/left) and the node's door for other
// members' traffic: forwarded requests, replication and hand-over. It keeps no
// sessions itself; it calls the rest of the node through cluster_host.
// docs/cluster.md describes the protocol and the states.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>
#include <caf/io/middleman_actor.hpp>

#include "actors/cluster/cluster_view.hpp"
#include "actors/limiter/limiter_shard.hpp"
#include "config/config.hpp"
#include "net/backend.hpp"
#include "net/owed_replies.hpp"
#include "net/peer_messages.hpp"
#include "actors/cluster/cluster_metrics.hpp"

namespace castellan::actors {

// What the cluster node asks of the rest of the node. Every callback returns
// at once (it sends, never waits); the `done` callbacks may run on any thread.
struct cluster_host {
  // Serves forwarded validate/refresh/logout ops here (this node owns them).
  std::function<void(net::op_batch&&)> serve_ops;
  // Opens a session here for a login whose password another member checked.
  std::function<void(const net::peer_open&, net::owed_ptr)> open_session;
  // Merges another member's session changes; done(durable).
  std::function<void(std::vector<net::auth_event>, std::function<void(bool)>)> apply;
  using send_fn = std::function<void(const std::string& member, std::vector<net::auth_event>)>;
  // Holders changed: every shard sends what others now hold, then
  // done(true); done(false) if a shard died before it had sent its share.
  std::function<void(std::shared_ptr<const actors::ring> before, std::shared_ptr<const actors::ring> after,
                     std::shared_ptr<const actors::ring> owners, send_fn send,
                     std::function<void(bool)> done)>
      rebalance;
  // Checks limiter keys this node owns for a login served elsewhere.
  std::function<void(std::vector<limit_key>, std::function<void(const decision&, key_kind)>)>
      check_limits;
  // Learns a login's outcome for limiter keys this node owns.
  std::function<void(limit_outcome)> teach_limits;
  // revoke_user: ends the sessions of a user that this member owns;
  // done(count, durable everywhere).
  std::function<void(const std::string&, bool rest, std::function<void(uint64_t, bool)>)> revoke;
  // This node's load for heartbeats (the monitor's latest summary).
  std::function<net::member_load()> load;
  // A new view of the cluster.
  std::function<void(cluster_view_ptr)> publish;
};

}  // namespace castellan::actors

namespace castellan::actors {

struct cluster_deps {
  config::cluster_config cfg;
  actors::cluster_metrics* metrics = nullptr;  // may be null; outlives the node
  std::string secret;          // never logged, never sent
  net::member_info self;       // name, cluster and client address, incarnation
  cluster_host host;
  // Opens connections to members: the middleman's actor, or with
  // [cluster.tls] the OpenSSL module's.
  caf::io::middleman_actor dialer;
};

// -- local messages (from the node's own threads; never leave the process) --

// Ops whose owner is `member`, with the connections they are owed to.
struct forward_ops {
  std::string member;
  net::op_batch batch;
};

// A login to open on its owner `member`; the token stays here and is put
// into the owner's reply.
struct forward_open {
  std::string member;
  net::peer_open open;
  std::string token;
  net::owed_ptr owed;
};

// Session changes for other holders: per member, its records. done(ok) once
// every member has them durable (false: any refused, vanished or timed out).
struct replicate_out {
  std::vector<std::pair<std::string, std::vector<net::auth_event>>> parts;
  uint64_t holders = 0;  // the fingerprint of the holders they were placed under
  std::function<void(bool)> done;
};

// A login's limiter keys that `member` owns, to check there.
struct limit_out {
  std::string member;
  std::vector<limit_key> keys;
  limit_part part;  // dropped unanswered (unreachable, timed out): failed
};

// A login's outcome for the limiter keys `member` owns.
struct teach_out {
  std::string member;
  limit_outcome outcome;
};

// revoke_user's share for `member`: its owned sessions of `user`.
struct revoke_out {
  std::string member;
  std::string user;
  bool rest = false;  // as net::peer_revoke::rest
  std::function<void(uint64_t, bool)> done;  // dropped uncalled: a failure (revoke_part)
};

// Hand-over records for `member` (nobody waits for them).
struct handover_out {
  std::string member;
  std::vector<net::auth_event> events;
};

// Hand-over `run` is over: every shard has sent its share (ok), or one died
// before it had (not ok: the run is redone).
struct handover_finished {
  uint64_t run = 0;
  bool ok = false;
};

// A message for a member, to be sent with the cluster node as its sender
// (members drop anything from an actor that did not pass the handshake).
struct peer_send {
  std::string member;
  std::string type;
  std::string body;
};

// Spawns the node; it starts joining at once (its seeds, then whoever they
// know). Publish it on cfg.port with the middleman before it can be joined.
caf::actor spawn_cluster_node(caf::actor_system& sys, cluster_deps deps);

// The proof a member sends for `label` over both nonces (keyed BLAKE2b-256
// with a key derived from the secret). Exposed for tests.
std::string handshake_proof(const std::string& secret, std::string_view label,
                            std::string_view first_nonce, std::string_view second_nonce);

}  // namespace castellan::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::forward_ops)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::forward_open)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::replicate_out)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::handover_out)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::handover_finished)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::peer_send)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::limit_out)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::teach_out)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::revoke_out)
