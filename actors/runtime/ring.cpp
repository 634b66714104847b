// Rendezvous placement; see ring.hpp.
#include "actors/runtime/ring.hpp"

#include <algorithm>
#include <cstring>

namespace castellan::actors {
namespace {

// SplitMix64's finalizer: a bijective mix, so distinct (key, member) pairs
// get independent-looking scores.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

uint64_t fnv1a(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return mix(h);
}

}  // namespace

uint64_t ring_hash(const net::session_key& key) {
  // The key is a MAC tag (uniformly random), but both halves already feed the
  // node's own table and shard choice: mix them so the cluster placement is
  // independent of the shard index.
  uint64_t a, b;
  std::memcpy(&a, key.data(), 8);
  std::memcpy(&b, key.data() + 8, 8);
  return mix(a ^ mix(b ^ 0x9e3779b97f4a7c15ULL));
}

uint64_t ring_hash(std::string_view limiter_key) { return fnv1a(limiter_key); }

ring::ring(std::vector<std::string> members, size_t replicas) : members_(std::move(members)) {
  std::sort(members_.begin(), members_.end());
  members_.erase(std::unique(members_.begin(), members_.end()), members_.end());
  for (auto& m : members_)
    member_hashes_.push_back(fnv1a(m));
  replicas_ = std::max<size_t>(1, std::min(replicas, members_.size()));
}

uint64_t ring::score(uint64_t key_hash, size_t member) const {
  return mix(key_hash ^ member_hashes_[member]);
}

std::vector<uint32_t> ring::place(uint64_t key_hash) const {
  std::vector<uint32_t> order(members_.size());
  for (uint32_t i = 0; i < order.size(); ++i)
    order[i] = i;
  size_t r = std::min(replicas_, order.size());
  std::partial_sort(order.begin(), order.begin() + r, order.end(), [&](uint32_t a, uint32_t b) {
    return score(key_hash, a) > score(key_hash, b);
  });
  order.resize(r);
  return order;
}

uint32_t ring::owner(uint64_t key_hash) const {
  uint32_t best = 0;
  uint64_t best_score = 0;
  for (uint32_t i = 0; i < members_.size(); ++i)
    if (auto s = score(key_hash, i); i == 0 || s > best_score) {
      best = i;
      best_score = s;
    }
  return best;
}

bool ring::holds(uint64_t key_hash, uint32_t index) const {
  if (index >= members_.size())
    return false;
  // Held when fewer than R members outscore it.
  uint64_t mine = score(key_hash, index);
  size_t above = 0;
  for (uint32_t i = 0; i < members_.size(); ++i)
    above += i != index && score(key_hash, i) > mine;
  return above < replicas_;
}

int ring::index_of(std::string_view name) const {
  auto it = std::lower_bound(members_.begin(), members_.end(), name);
  return it != members_.end() && *it == name ? static_cast<int>(it - members_.begin()) : -1;
}

}  // namespace castellan::actors
