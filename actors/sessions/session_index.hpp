// A flat table of live sessions that one thread writes (the shard that owns
// them) and any number of threads read without a lock: the foundation of a
// validate answered by the I/O thread that read it, with no thread hop
// (issue 17; docs/performance.md, "Where the time goes").
//
// Layout: open addressing with linear probing over a power-of-two array of
// 40-byte slots (key, user id, created, expiry, sequence), no allocation per
// session. Each slot is its own seqlock: the writer makes the sequence odd,
// writes the fields, makes it even again; a reader that saw an odd or changed
// sequence reads the slot again. Every field is an atomic, so a torn read is
// detected, never undefined.
//
// Why a reader never misses a live session: an erased slot becomes a
// tombstone that probes walk past, and entries never move within an array.
// When tombstones or growth call for it the writer builds a new array and
// publishes it whole; the old one is freed only once no reader can still be
// inside it (reader_epochs: each reader thread says when it is inside).
//
// What readers must know: a lookup may return a session erased after it
// began (never one erased before); a reader waits, spinning, while the
// writer is inside the slot it reads, so the writer must not be interrupted
// by a reader on its own thread (a signal handler), and it calls reclaim()
// now and then so replaced arrays do not wait for its next rebuild. The
// index is destroyed only after its readers have stopped.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "net/token.hpp"

namespace castellan::actors {

// What a reader learns of a live session.
struct indexed_session {
  uint32_t user = 0;        // the writer's user id (an index it keeps meaning)
  int64_t created_ms = 0;
  int64_t expires_ms = 0;
};

// Where reader threads say they are inside an index, so the writer knows
// when an array it replaced may be freed. One slot per reader thread; a
// reader enters before a lookup and leaves after, never blocking.
class reader_epochs {
 public:
  explicit reader_epochs(size_t readers);
  size_t readers() const { return slots_.size(); }

  // Reader `r` (0 .. readers-1) is inside from enter() to leave().
  void enter(size_t r);
  void leave(size_t r);

  // The reader slot of the calling thread, claimed on its first call and
  // kept for the thread's life; none once every slot is taken (the caller
  // then asks the writer instead). No two threads ever share a slot.
  std::optional<size_t> this_thread_reader();

  // enter() .. leave() for one scope.
  class inside {
   public:
    inside(reader_epochs& e, size_t r) : e_(e), r_(r) { e_.enter(r_); }
    ~inside() { e_.leave(r_); }
    inside(const inside&) = delete;
    inside& operator=(const inside&) = delete;

   private:
    reader_epochs& e_;
    size_t r_;
  };

  // The writer's clock: an array retired at epoch e may be freed once every
  // reader is outside or entered after e.
  uint64_t advance();
  bool all_past(uint64_t epoch) const;

 private:
  struct alignas(64) slot {
    std::atomic<uint64_t> inside{0};  // 0: outside; else the epoch it entered at
  };
  std::atomic<uint64_t> epoch_{1};
  std::vector<slot> slots_;
  std::atomic<size_t> claimed_{0};
  const uint64_t instance_;  // tells this object from one later built at its address
};

class session_index {
 public:
  // `epochs` is shared by every index the same reader threads read.
  session_index(std::shared_ptr<reader_epochs> epochs, size_t expected_sessions = 0);
  ~session_index();
  session_index(const session_index&) = delete;
  session_index& operator=(const session_index&) = delete;

  // -- the writer (one thread) ---------------------------------------------------
  // Inserts or overwrites the session under `key`; throws (bad_alloc,
  // length_error) before changing anything.
  void put(const net::session_key& key, const indexed_session& s);
  // The session's expiry becomes `expires_ms`; false if it is not held.
  bool set_expiry(const net::session_key& key, int64_t expires_ms);
  // Removes the session; false if it was not held. Throws nothing.
  bool erase(const net::session_key& key);
  // The session under `key`, as the writer sees it (its own thread: no epoch).
  std::optional<indexed_session> get(const net::session_key& key) const;
  // Every live session, in slot order, as the writer sees it. `visit` must
  // not change the index (collect keys first, then erase).
  void for_each(const std::function<void(const net::session_key&, const indexed_session&)>& visit) const;
  // Room for `sessions` without a rebuild on the way (recovery knows how many).
  void reserve(size_t sessions);
  // Frees arrays replaced earlier that no reader can still be reading.
  void reclaim();
  size_t size() const { return live_; }
  // Bytes the index holds now, arrays waiting to be freed included.
  size_t bytes() const;

  // -- any thread, as reader `r` of the shared reader_epochs -------------------
  std::optional<indexed_session> find(const net::session_key& key, size_t r) const;
  // The same, for a caller already inside (reader_epochs::inside) that reads
  // other epoch-protected data in the same visit.
  std::optional<indexed_session> find_inside(const net::session_key& key) const;

 private:
  struct slot;
  struct array;

  // The slot holding `key` in the current array, or where it would go.
  slot* probe(const net::session_key& key, bool for_insert);
  const slot* probe(const net::session_key& key) const {
    return const_cast<session_index*>(this)->probe(key, false);
  }
  void write_slot(slot& s, const net::session_key& key, uint32_t state, const indexed_session& v);
  void grow_or_clean();
  void rebuild(size_t capacity);

  std::shared_ptr<reader_epochs> epochs_;
  std::atomic<array*> current_;
  struct retired_array {
    array* a;
    uint64_t epoch;
  };
  std::vector<retired_array> retired_;
  size_t live_ = 0;
  size_t tombstones_ = 0;
};

}  // namespace castellan::actors
