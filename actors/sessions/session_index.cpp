// A flat single-writer, many-reader session table; see session_index.hpp.
#include "actors/sessions/session_index.hpp"

#include <cassert>
#include <cstring>
#include <stdexcept>

namespace castellan::actors {

namespace {

constexpr uint32_t empty_slot = 0, live_slot = 1, tombstone_slot = 2;
constexpr uint32_t state_bits = 2, state_mask = (1u << state_bits) - 1;
constexpr size_t min_capacity = 16;

uint32_t meta_of(uint32_t state, uint32_t user) { return (user << state_bits) | state; }

// Keys are MACs: any 8 of their bytes are a uniform hash.
struct key_words {
  uint64_t lo, hi;
};
key_words words_of(const net::session_key& key) {
  static_assert(sizeof(net::session_key) == 16, "a slot holds a 16-byte key");
  key_words w;
  std::memcpy(&w.lo, key.data(), 8);
  std::memcpy(&w.hi, key.data() + 8, 8);
  return w;
}

size_t capacity_for(size_t sessions) {
  size_t cap = min_capacity;
  while (cap < sessions * 2)  // rebuilt half full: room to grow before the next rebuild
    cap *= 2;
  return cap;
}

}  // namespace

// -- reader_epochs ---------------------------------------------------------------------
// Every operation is sequentially consistent: the writer's publish of a new
// array, its epoch step and its look at the readers, and a reader's entry
// and its load of the array, fall in one order, so a reader the writer sees
// outside, or inside since the step, holds the new array.

namespace {
std::atomic<uint64_t> next_instance{1};
}

reader_epochs::reader_epochs(size_t readers)
    : slots_(readers), instance_(next_instance.fetch_add(1)) {}

std::optional<size_t> reader_epochs::this_thread_reader() {
  struct claim {
    uint64_t instance;
    size_t slot;
  };
  thread_local std::vector<claim> claims;  // a thread reads few indexes: a short list
  constexpr size_t none = SIZE_MAX;
  for (auto& c : claims)
    if (c.instance == instance_)
      return c.slot == none ? std::nullopt : std::optional<size_t>(c.slot);
  size_t slot = claimed_.fetch_add(1);  // slots are never given back
  claims.push_back({instance_, slot < slots_.size() ? slot : none});  // a refusal is kept too
  return claims.back().slot == none ? std::nullopt : std::optional<size_t>(slot);
}

void reader_epochs::enter(size_t r) {
  assert(r < slots_.size());
  slots_[r].inside.store(epoch_.load());
}
void reader_epochs::leave(size_t r) { slots_[r].inside.store(0); }
uint64_t reader_epochs::advance() { return epoch_.fetch_add(1) + 1; }

bool reader_epochs::all_past(uint64_t epoch) const {
  for (auto& s : slots_) {
    uint64_t inside = s.inside.load();
    if (inside != 0 && inside < epoch)
      return false;
  }
  return true;
}

// -- the table -------------------------------------------------------------------------

struct session_index::slot {
  std::atomic<uint32_t> seq{0};   // odd while the writer is changing the slot
  std::atomic<uint32_t> meta{0};  // state (2 bits) and user id
  std::atomic<uint64_t> key_lo{0}, key_hi{0};
  std::atomic<int64_t> created_ms{0}, expires_ms{0};
};
static_assert(sizeof(std::atomic<uint64_t>) == 8 && alignof(std::atomic<uint64_t>) == 8);

struct session_index::array {
  explicit array(size_t capacity) : mask(capacity - 1), slots(new slot[capacity]) {}
  size_t capacity() const { return mask + 1; }
  size_t mask;
  std::unique_ptr<slot[]> slots;
};

session_index::session_index(std::shared_ptr<reader_epochs> epochs, size_t expected_sessions)
    : epochs_(std::move(epochs)), current_(new array(capacity_for(expected_sessions))) {}

session_index::~session_index() {
  delete current_.load();
  for (auto& r : retired_)
    delete r.a;
}

void session_index::write_slot(slot& s, const net::session_key& key, uint32_t state,
                               const indexed_session& v) {
  auto w = words_of(key);
  uint32_t seq = s.seq.load(std::memory_order_relaxed);
  s.seq.store(seq + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  s.meta.store(meta_of(state, v.user), std::memory_order_relaxed);
  s.key_lo.store(w.lo, std::memory_order_relaxed);
  s.key_hi.store(w.hi, std::memory_order_relaxed);
  s.created_ms.store(v.created_ms, std::memory_order_relaxed);
  s.expires_ms.store(v.expires_ms, std::memory_order_relaxed);
  s.seq.store(seq + 2, std::memory_order_release);
}

// The writer's own view needs no seqlock: only it changes the slots.
session_index::slot* session_index::probe(const net::session_key& key, bool for_insert) {
  auto w = words_of(key);
  auto* a = current_.load(std::memory_order_relaxed);
  slot* free = nullptr;
  for (size_t i = w.lo & a->mask, n = 0; n < a->capacity(); i = (i + 1) & a->mask, ++n) {
    auto& s = a->slots[i];
    uint32_t state = s.meta.load(std::memory_order_relaxed) & state_mask;
    if (state == empty_slot)
      return for_insert ? (free ? free : &s) : nullptr;
    if (state == tombstone_slot) {
      if (!free)
        free = &s;
      continue;
    }
    if (s.key_lo.load(std::memory_order_relaxed) == w.lo &&
        s.key_hi.load(std::memory_order_relaxed) == w.hi)
      return &s;
  }
  return for_insert ? free : nullptr;
}

void session_index::put(const net::session_key& key, const indexed_session& s) {
  if (s.user >> (32 - state_bits))
    throw std::length_error("session_index: user ids stop at 2^30");
  if (auto* held = probe(key, false))
    return write_slot(*held, key, live_slot, s);
  auto capacity = current_.load(std::memory_order_relaxed)->capacity();
  if ((live_ + tombstones_ + 1) * 4 > capacity * 3)
    grow_or_clean();
  auto* at = probe(key, true);
  if ((at->meta.load(std::memory_order_relaxed) & state_mask) == tombstone_slot)
    --tombstones_;
  write_slot(*at, key, live_slot, s);
  ++live_;
}

std::optional<indexed_session> session_index::get(const net::session_key& key) const {
  const auto* held = probe(key);
  if (!held)
    return std::nullopt;
  return indexed_session{held->meta.load(std::memory_order_relaxed) >> state_bits,
                         held->created_ms.load(std::memory_order_relaxed),
                         held->expires_ms.load(std::memory_order_relaxed)};
}

void session_index::for_each(
    const std::function<void(const net::session_key&, const indexed_session&)>& visit) const {
  const auto* a = current_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < a->capacity(); ++i) {
    auto& s = a->slots[i];
    uint32_t meta = s.meta.load(std::memory_order_relaxed);
    if ((meta & state_mask) != live_slot)
      continue;
    net::session_key key;
    uint64_t lo = s.key_lo.load(std::memory_order_relaxed), hi = s.key_hi.load(std::memory_order_relaxed);
    std::memcpy(key.data(), &lo, 8);
    std::memcpy(key.data() + 8, &hi, 8);
    visit(key, indexed_session{meta >> state_bits, s.created_ms.load(std::memory_order_relaxed),
                               s.expires_ms.load(std::memory_order_relaxed)});
  }
}

bool session_index::set_expiry(const net::session_key& key, int64_t expires_ms) {
  auto* held = probe(key, false);
  if (!held)
    return false;
  indexed_session v{held->meta.load(std::memory_order_relaxed) >> state_bits,
                    held->created_ms.load(std::memory_order_relaxed), expires_ms};
  write_slot(*held, key, live_slot, v);
  return true;
}

bool session_index::erase(const net::session_key& key) {
  auto* held = probe(key, false);
  if (!held)
    return false;
  // A tombstone keeps the key out of reach but the probe chains intact.
  write_slot(*held, net::session_key{}, tombstone_slot, indexed_session{});
  --live_;
  ++tombstones_;
  // Under a quarter full: rebuilt at half the size, so the index shrinks with
  // the sessions (growth waits for three quarters: no rebuild back and forth).
  auto capacity = current_.load(std::memory_order_relaxed)->capacity();
  if (capacity > min_capacity && live_ * 4 < capacity) {
    try {
      grow_or_clean();
    } catch (const std::bad_alloc&) {
      // Shrinking is only a saving: the erase stands, the array stays as it is.
    }
  }
  return true;
}

// A new array sized for the live sessions (half full), without tombstones, published
// whole; the old one waits until no reader can be inside it.
void session_index::grow_or_clean() { rebuild(capacity_for(live_ + 1)); }

void session_index::reserve(size_t sessions) {
  auto capacity = capacity_for(sessions);
  if (capacity > current_.load(std::memory_order_relaxed)->capacity())
    rebuild(capacity);
}

// Throws (bad_alloc) before changing anything.
void session_index::rebuild(size_t capacity) {
  auto* old = current_.load(std::memory_order_relaxed);
  auto owned = std::make_unique<array>(capacity);
  auto* fresh = owned.get();
  for (size_t i = 0; i < old->capacity(); ++i) {
    auto& s = old->slots[i];
    uint32_t meta = s.meta.load(std::memory_order_relaxed);
    if ((meta & state_mask) != live_slot)
      continue;
    uint64_t lo = s.key_lo.load(std::memory_order_relaxed);
    for (size_t j = lo & fresh->mask;; j = (j + 1) & fresh->mask) {
      auto& d = fresh->slots[j];
      if ((d.meta.load(std::memory_order_relaxed) & state_mask) != empty_slot)
        continue;
      d.meta.store(meta, std::memory_order_relaxed);
      d.key_lo.store(lo, std::memory_order_relaxed);
      d.key_hi.store(s.key_hi.load(std::memory_order_relaxed), std::memory_order_relaxed);
      d.created_ms.store(s.created_ms.load(std::memory_order_relaxed), std::memory_order_relaxed);
      d.expires_ms.store(s.expires_ms.load(std::memory_order_relaxed), std::memory_order_relaxed);
      break;
    }
  }
  retired_.reserve(retired_.size() + 1);  // nothing may throw once `fresh` is out
  current_.store(owned.release());  // sequentially consistent: see reader_epochs
  retired_.push_back({old, epochs_->advance()});
  tombstones_ = 0;
  reclaim();
}

void session_index::reclaim() {
  for (auto it = retired_.begin(); it != retired_.end();)
    if (epochs_->all_past(it->epoch)) {
      delete it->a;
      it = retired_.erase(it);
    } else {
      ++it;
    }
}

size_t session_index::bytes() const {
  size_t n = current_.load(std::memory_order_relaxed)->capacity();
  for (auto& r : retired_)
    n += r.a->capacity();
  return n * sizeof(slot);
}

std::optional<indexed_session> session_index::find(const net::session_key& key, size_t r) const {
  reader_epochs::inside visit(*epochs_, r);
  return find_inside(key);
}

std::optional<indexed_session> session_index::find_inside(const net::session_key& key) const {
  auto w = words_of(key);
  const auto* a = current_.load();  // sequentially consistent: see reader_epochs
  std::optional<indexed_session> out;
  for (size_t i = w.lo & a->mask, n = 0; n < a->capacity(); i = (i + 1) & a->mask, ++n) {
    auto& s = a->slots[i];
    uint32_t meta;
    uint64_t lo, hi;
    int64_t created, expires;
    for (;;) {  // the slot's seqlock: read until no write overlapped
      uint32_t before = s.seq.load(std::memory_order_acquire);
      if (before & 1)
        continue;  // the writer is inside this slot for a few stores
      meta = s.meta.load(std::memory_order_relaxed);
      lo = s.key_lo.load(std::memory_order_relaxed);
      hi = s.key_hi.load(std::memory_order_relaxed);
      created = s.created_ms.load(std::memory_order_relaxed);
      expires = s.expires_ms.load(std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (s.seq.load(std::memory_order_relaxed) == before)
        break;
    }
    uint32_t state = meta & state_mask;
    if (state == empty_slot)
      break;
    if (state == live_slot && lo == w.lo && hi == w.hi) {
      out = indexed_session{meta >> state_bits, created, expires};
      break;
    }
  }
  return out;
}

}  // namespace castellan::actors
