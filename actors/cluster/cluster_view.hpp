// The cluster as one node sees it at one moment: every member with its state,
// load and when it was last heard from, and the two rings derived from the
// states. Immutable once published; readers (the front door's routing, the
// monitor's /cluster, op cluster_status) load the newest without waiting on
// the cluster actor. CAF-free. Members are the monitor's member_status, so
// /cluster renders a cluster member and a node alone with one function.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/runtime/ring.hpp"
#include "monitor/cluster_status.hpp"
#include "net/peer_messages.hpp"

namespace castellan::actors {

struct cluster_view {
  std::string self;
  std::vector<monitor::member_status> members;  // this node first, then by name
  // Who serves: members up or suspect. A key's owner is the first of its
  // placement here; reads and writes go there.
  std::shared_ptr<const actors::ring> owners;
  // Who receives writes: owners plus members still joining, so a joiner is
  // current by the time it starts to own.
  std::shared_ptr<const actors::ring> holders;
  // Where this member's copies are known complete (membership.hpp,
  // "Complete copies"); null until the first settle.
  std::shared_ptr<const actors::ring> settled;
  std::shared_ptr<const actors::ring> intact;
  uint64_t epoch = 0;  // bumped whenever either ring changes
  // The holders with their incarnations, hashed the same on every member
  // (membership::holders_fingerprint): members that agree on where keys
  // live have the same one. A replicated write carries it.
  uint64_t holders_fingerprint = 0;
  // Members this node can reach (itself included) and members it knows of
  // that have not left: with no majority it is on the minority side of a
  // partition, and refuses the writes that must not fork (docs/cluster.md).
  size_t reachable = 1;
  size_t known = 1;
  bool majority() const { return reachable * 2 > known; }
  // Until when this member may answer as an owner (membership::lease_until).
  std::chrono::steady_clock::time_point lease_until = std::chrono::steady_clock::time_point::max();
  bool lease_holds(std::chrono::steady_clock::time_point now) const { return now < lease_until; }

  // Whether requests for `key_hash` are this node's to answer.
  bool owns(uint64_t key_hash) const {
    return owned() && owners->members()[owners->owner(key_hash)] == self;
  }
  // Whether this member serves (up): its copies are complete.
  bool serving() const {
    return !members.empty() && members.front().info.state == net::member_state::up;
  }
  // Whether any member owns ranges yet (none while everyone is joining).
  bool owned() const { return owners && !owners->empty(); }
  // The member a request for `key_hash` goes to (owned() must hold).
  const std::string& owner_of(uint64_t key_hash) const {
    return owners->members()[owners->owner(key_hash)];
  }
  // Whether this node holds a copy (owner or replica) of `key_hash`.
  bool holds(uint64_t key_hash) const {
    int i = holders ? holders->index_of(self) : -1;
    return i >= 0 && holders->holds(key_hash, static_cast<uint32_t>(i));
  }
  // Whether this node holds the complete copy of `key_hash`: "no such
  // session" here is then the truth. Cheap when nothing is moving.
  bool complete(uint64_t key_hash) const;
  // Whether every key this node holds is complete (/cluster's "complete").
  bool all_complete() const { return settled && settled == holders && intact == holders; }
  // Whether some keys have lost every holder they had (R members of the
  // intact ring are gone): a revoke now could not reach their copies.
  bool keys_lost() const;
};

using cluster_view_ptr = std::shared_ptr<const cluster_view>;

// Whether member `self` holding `key_hash` under `holders` has all of it,
// given the last settled ring and the last one that lost nothing (either
// may be null: nothing is known complete).
bool copy_complete(const ring& holders, const ring* settled, const ring* intact,
                   const std::string& self, uint64_t key_hash);

// The view as /cluster shows it (monitor::cluster_json renders it).
monitor::cluster_status status_of(const cluster_view& view);

}  // namespace castellan::actors
