// Who sends what when the holders change (sessions and lockouts alike): for
// a key, every member that holds it under the new ring but did not under the
// old one needs a copy, and exactly one old holder sends it: the first of the
// key's old holders that is still a member (with no old ring, say after a
// restart, everyone sends; merges make duplicates harmless). Session and
// limiter shards alike receive `rebalance` and use handover_targets.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>

#include "actors/runtime/fan_in.hpp"
#include "actors/runtime/ring.hpp"
#include "net/events.hpp"

namespace castellan::actors {

// The cluster's holders changed from `before` to `after` (rings over the
// members that hold data). The shard sends each session (or tombstone) to
// every member that holds it under `after` but did not under `before`, then
// forgets those it no longer holds itself, then calls done(true). A shard
// that dies first (with this in its mailbox, or half-way through) drops
// `done` unanswered, which reports false: the hand-over is then redone.
struct rebalance {
  std::shared_ptr<const actors::ring> before;  // may be empty: send to every holder
  std::shared_ptr<const actors::ring> after;
  // Owners now: a member keeps what it holds under either ring (writes go
  // to both, and an owner may take over before a joiner is up).
  std::shared_ptr<const actors::ring> owners;
  std::string self;
  std::function<void(const std::string& member, std::vector<net::auth_event>)> send;
  fan_in<bool>::part done;
};


// The members `self` must send the key at `h` to (empty when it is not the
// key's sender, or nobody new holds it).
inline std::vector<std::string> handover_targets(const actors::ring* before, const actors::ring& after,
                                                 const std::string& self, uint64_t h) {
  std::vector<std::string> out;
  if (before && !before->empty()) {
    for (auto i : before->place(h)) {
      auto& m = before->members()[i];
      if (after.index_of(m) >= 0) {
        if (m != self)
          return out;  // another old holder sends it
        break;
      }
    }
  }
  for (auto i : after.place(h)) {
    auto& member = after.members()[i];
    if (member == self)
      continue;
    int was = before ? before->index_of(member) : -1;
    if (was >= 0 && before->holds(h, static_cast<uint32_t>(was)))
      continue;  // it held the key already and heard every change
    out.push_back(member);
  }
  return out;
}

}  // namespace castellan::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::rebalance)
