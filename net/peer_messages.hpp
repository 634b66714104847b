// Messages between cluster members, declared once like the client protocol
// (messages.hpp) and the audit records (events.hpp), and map-encoded with
// msgpack so a newer node can add a field without breaking an older one.
// CAF's middleman carries them between nodes as (cluster_atom, type, body),
// with `body` the msgpack encoding of the struct named by `type`
// (docs/cluster.md, "Wire").
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>

#include "net/bounded_unpack.hpp"
#include "net/events.hpp"
#include "net/member_state.hpp"

namespace castellan::net {

// -- joining: a challenge-response on the cluster secret ---------------------
// Neither side ever sends the secret: each proves it with a keyed BLAKE2b of
// both nonces. Until a peer has proved it, every other message from it is
// dropped and logged.

struct peer_hello {
  static constexpr std::string_view type = "hello";
  std::string name;     // the joiner's node name
  std::string address;  // its cluster address, host:port
  std::string nonce;    // 32 random bytes
  uint64_t incarnation = 0;  // its start time: a restart makes a new pair key
  MSGPACK_DEFINE_MAP(name, address, nonce, incarnation)
};

struct peer_challenge {
  static constexpr std::string_view type = "challenge";
  std::string name;
  std::string address;
  std::string nonce;  // the answering side's 32 random bytes
  std::string proof;  // MAC(secret, "castellan/answer" | hello.nonce | nonce)
  uint64_t incarnation = 0;
  MSGPACK_DEFINE_MAP(name, address, nonce, proof, incarnation)
};

struct peer_proof {
  static constexpr std::string_view type = "proof";
  std::string name;
  std::string proof;  // MAC(secret, "castellan/join" | hello.nonce | challenge.nonce)
  MSGPACK_DEFINE_MAP(name, proof)
};

// After the handshake every message between two members carries a sequence
// number and a MAC (keyed BLAKE2b-128) under a key both derive from the
// secret, both names and both incarnations: a host that merely reaches the
// port, or impersonates a member's CAF node id, can neither forge nor replay
// one (docs/cluster.md, "Wire").

// -- membership --------------------------------------------------------------

// One member as the sender sees it. Gossiped in every heartbeat, which is how
// a node that joined through one seed learns every other member.
struct member_info {
  std::string name;
  std::string address;    // cluster host:port
  std::string client;     // client host:port (what authctl and clients use)
  member_state state = member_state::joining;  // on the wire by name (member_state.hpp)
  uint64_t incarnation = 0;  // the member's start time (Unix ms): a restart is a new incarnation
  MSGPACK_DEFINE_MAP(name, address, client, state, incarnation)
};

// Load a member reports about itself (its monitor's latest summary).
struct member_load {
  bool ready = false;
  double requests_per_s = 0;
  double error_share = 0;
  double p99_ms = 0;
  uint64_t sessions = 0;
  uint64_t restarts = 0;
  std::vector<std::string> not_ready;  // reasons, when not ready
  MSGPACK_DEFINE_MAP(ready, requests_per_s, error_share, p99_ms, sessions, restarts, not_ready)
};

struct peer_heartbeat {
  static constexpr std::string_view type = "heartbeat";
  member_info self;
  member_load load;
  std::vector<member_info> members;  // everyone the sender knows of
  // The sender's monotonic clock (ms) when it sent this: opaque to others,
  // who echo it back.
  int64_t stamp = 0;
  // For each member, the latest `stamp` the sender has heard from it. A
  // member whose stamp a majority echoes knows they heard it after that
  // moment, so none of them takes its ranges over before stamp +
  // down_after_ms: its lease (docs/cluster.md, "Owner reads and leases").
  std::map<std::string, int64_t> echoes;
  // Whether the sender reaches a majority of the members it knows: when two
  // members found each other down, the one on the minority side rejoins.
  bool majority = true;
  // The holders (membership::holders_fingerprint) the sender has finished
  // handing over to, 0 while a hand-over runs: once every holder reports
  // the current holders, a member knows its copies are complete.
  uint64_t handed = 0;
  // The members the sender itself finds down (no connection, or silent
  // down_after_ms), by incarnation: its vote. A member's ranges move only
  // once a majority finds it down, so a member that only some of the others
  // cannot hear keeps its ranges in every view (docs/cluster.md).
  std::map<std::string, uint64_t> found_down;
  MSGPACK_DEFINE_MAP(self, load, members, stamp, echoes, majority, handed, found_down)
};

// A member stopping on purpose (SIGTERM) after handing its ranges over.
struct peer_leave {
  static constexpr std::string_view type = "leave";
  std::string name;
  uint64_t incarnation = 0;
  uint64_t batch = 0;  // answered with a peer_ack of this batch
  MSGPACK_DEFINE_MAP(name, incarnation, batch)
};

// -- requests forwarded to a key's owner -------------------------------------

struct peer_op {
  uint64_t id = 0;       // the client's request id
  uint8_t kind = 0;      // net::op_kind
  uint32_t sink = 0;     // which of the batch's connections it came from
  std::string key;       // session key, 16 bytes
  MSGPACK_DEFINE_MAP(id, kind, sink, key)
};

struct peer_ops {
  static constexpr std::string_view type = "ops";
  uint64_t batch = 0;
  std::vector<peer_op> ops;
  int64_t deadline_ms = 0;  // see late()
  MSGPACK_DEFINE_MAP(batch, ops, deadline_ms)
};

// A request's deadline, on the asker's wall clock: when it stops waiting and
// its client hears `unavailable`. A member that gets the request later (it
// sat in a connection through a partition) drops it, so what a client was
// told has failed does not take effect afterwards (as far as the members'
// clocks agree). 0: no deadline.
inline bool late(int64_t deadline_ms, int64_t now_ms) { return deadline_ms != 0 && now_ms > deadline_ms; }

// The owner's reply frames for one connection of a forwarded batch.
struct reply_part {
  uint32_t sink = 0;
  std::string frames;       // encoded reply frames, ready for the client's socket
  std::string results;      // one byte per frame (reply_buffer::results)
  std::vector<uint64_t> ids;
  MSGPACK_DEFINE_MAP(sink, frames, results, ids)
};

struct peer_replies {
  static constexpr std::string_view type = "replies";
  uint64_t batch = 0;
  std::vector<reply_part> parts;
  MSGPACK_DEFINE_MAP(batch, parts)
};

// Opens a session on its owner after the login's password check passed on
// the node the client asked. The token never leaves that node: the owner's
// login_reply comes back without one and the asking node fills it in.
struct peer_open {
  static constexpr std::string_view type = "open";
  uint64_t batch = 0;
  uint64_t request_id = 0;
  std::string key;  // session key, 16 bytes
  std::string user;
  std::string ip;
  int64_t deadline_ms = 0;  // see late()
  MSGPACK_DEFINE_MAP(batch, request_id, key, user, ip, deadline_ms)
};

// -- replication --------------------------------------------------------------

// Session changes for a replica to apply and make durable: the very records
// the owner wrote to its own log (login_ok, refresh, logout), or, when ranges
// move, the current state of each session (login_ok with created/expiry, or
// logout for an ended one). Acknowledged once durable on the replica.
struct peer_replicate {
  static constexpr std::string_view type = "replicate";
  uint64_t batch = 0;  // 0: nobody waits for the acknowledgement (hand-over)
  std::vector<auth_event> events;
  // A write's: the fingerprint of the holders its owner placed it under. A
  // replica that sees other holders refuses it (its placement may miss a
  // holder the views will settle on). 0 on a hand-over, which merges anyway.
  uint64_t holders = 0;
  MSGPACK_DEFINE_MAP(batch, events, holders)
};

struct peer_ack {
  static constexpr std::string_view type = "ack";
  uint64_t batch = 0;
  bool ok = false;
  MSGPACK_DEFINE_MAP(batch, ok)
};

// -- rate limiting: one bucket per key, on the key's owner ---------------------

struct peer_limit_key {
  uint8_t kind = 0;  // user, ip, user_ip
  std::string value;
  MSGPACK_DEFINE_MAP(kind, value)
};

// Check one login's keys that the receiver owns (before any argon2 work).
struct peer_limit_check {
  static constexpr std::string_view type = "limit_check";
  uint64_t batch = 0;
  std::vector<peer_limit_key> keys;
  MSGPACK_DEFINE_MAP(batch, keys)
};

struct peer_limit_decision {
  static constexpr std::string_view type = "limit_decision";
  uint64_t batch = 0;
  bool allowed = false;
  bool locked = false;
  bool failed = false;
  int64_t retry_after_ms = 0;
  uint8_t refused_by = 0;  // key kind
  bool full = false;       // with failed: the owner's shard had no room for the key
  MSGPACK_DEFINE_MAP(batch, allowed, locked, failed, retry_after_ms, refused_by, full)
};

// A login's outcome for the keys the receiver owns (success refunds, failure
// counts towards a lockout).
struct peer_limit_outcome {
  static constexpr std::string_view type = "limit_outcome";
  std::vector<peer_limit_key> keys;
  bool success = false;
  std::string user;
  std::string ip;
  MSGPACK_DEFINE_MAP(keys, success, user, ip)
};

// revoke_user: end every session of `user` that the receiver owns (each end
// replicated to its other holders); answered with how many, once durable.
struct peer_revoke {
  static constexpr std::string_view type = "revoke";
  uint64_t batch = 0;
  std::string user;
  // false: end (and count) the sessions it owns; true, the second round:
  // end every other copy it still holds, uncounted.
  bool rest = false;
  int64_t deadline_ms = 0;  // see late()
  MSGPACK_DEFINE_MAP(batch, user, rest, deadline_ms)
};

struct peer_revoke_done {
  static constexpr std::string_view type = "revoke_done";
  uint64_t batch = 0;
  bool ok = false;
  uint64_t revoked = 0;
  MSGPACK_DEFINE_MAP(batch, ok, revoked)
};

// Sent to a joining member once the sender has handed it every session the
// joiner now holds; the joiner starts to own ranges when every member that
// was up has said so.
struct peer_handover_done {
  static constexpr std::string_view type = "handover_done";
  std::string name;
  uint64_t holders = 0;  // the holders it handed over to (as peer_heartbeat::handed)
  MSGPACK_DEFINE_MAP(name, holders)
};

// -- encoding -------------------------------------------------------------------

template <class Message>
std::string pack_peer(const Message& m) {
  msgpack::sbuffer out;
  msgpack::pack(out, m);
  return std::string(out.data(), out.size());
}

// Throws std::exception (msgpack's) when `body` is not a `Message`. Bounded:
// a hello is decoded before its sender has proven the cluster secret.
template <class Message>
Message unpack_peer(std::string_view body) {
  auto handle = unpack_bounded(body.data(), body.size());
  Message m;
  handle.get().convert(m);
  return m;
}

}  // namespace castellan::net
