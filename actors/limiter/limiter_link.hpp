// The seam through which the limiter reaches the one bucket the cluster has
// for a key: it lives on the key's owner, so checks and lessons for keys
// another member owns go there. CAF-free; the cluster backend implements it.
// Outside a cluster nobody sets it and every key is local.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "actors/limiter/limiter_shard.hpp"
#include "actors/runtime/ring.hpp"

namespace castellan::actors {

class limiter_link {
 public:
  virtual ~limiter_link() = default;

  // The member that owns limiter key `key`; "" when it is this node.
  virtual std::string limiter_owner(const limit_key& key) const = 0;
  // Asks `member` to check `keys` (it owns them) for one login; answers
  // through `part` once (a lost or late answer drops it: `failed`).
  virtual void check_remote(const std::string& member, std::vector<limit_key> keys,
                            limit_part part) = 0;
  // Tells `member` a login's outcome for the keys it owns.
  virtual void teach_remote(const std::string& member, limit_outcome outcome) = 0;
};

// Where a rate-limit key sits on the ring (its owner holds its one bucket).
inline uint64_t limiter_ring_hash(const limit_key& key) {
  return actors::ring_hash(std::string(to_string(key.kind)) + ":" + key.value);
}

}  // namespace castellan::actors
