// Who owns a key in the cluster: rendezvous (highest-random-weight) hashing.
// Every member scores every key; the R highest scores hold it, the highest
// owns it. Rendezvous needs no virtual nodes or token ranges: when a member
// leaves, exactly its keys move (each to the member that scored next), and
// when one joins it takes an even 1/N share from the others. Members are
// named by node name, so every node computes the same placement from the same
// member list without talking to anyone.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "net/token.hpp"

namespace castellan::actors {

// A key's 64-bit position, the input to placement.
uint64_t ring_hash(const net::session_key& key);
uint64_t ring_hash(std::string_view limiter_key);

class ring {
 public:
  ring() = default;
  // `members` in any order (they are sorted: the order must not matter);
  // `replicas` is R, capped by the member count.
  ring(std::vector<std::string> members, size_t replicas);

  // Indices into members() of the key's holders, owner first. Size min(R, N).
  std::vector<uint32_t> place(uint64_t key_hash) const;
  // The owner alone (place()[0]), without the allocation.
  uint32_t owner(uint64_t key_hash) const;
  // Whether member `index` is among the key's holders.
  bool holds(uint64_t key_hash, uint32_t index) const;

  const std::vector<std::string>& members() const { return members_; }
  // Index of `name`, or -1 when it is not a member.
  int index_of(std::string_view name) const;
  size_t replicas() const { return replicas_; }
  bool empty() const { return members_.empty(); }

 private:
  uint64_t score(uint64_t key_hash, size_t member) const;

  std::vector<std::string> members_;
  std::vector<uint64_t> member_hashes_;
  size_t replicas_ = 1;
};

}  // namespace castellan::actors
