// The audit writer: one per node, a detached actor (its own thread, so its
// fdatasync never blocks CAF's scheduler) that owns the audit log. Replies
// that must not be sent before their record is durable travel with the
// records and are delivered after the group commit that made them durable;
// if the commit fails they become `unavailable` (fail closed) and the node's
// audit_health says why until a retry succeeds.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>

#include "actors/runtime/atoms.hpp"

#include "net/backend.hpp"
#include "net/events.hpp"
#include "net/owed_replies.hpp"
#include "actors/audit/audit_metrics.hpp"

namespace castellan::actors {

class audit_log;

// Thread-safe view of the writer's state, for the router, shards and health.
class audit_health {
 public:
  bool writable() const { return writable_.load(std::memory_order_acquire); }
  std::string reason() const;
  void set_failed(std::string reason);
  void set_ok();

  std::atomic<uint64_t> records{0};   // records made durable
  std::atomic<uint64_t> commits{0};   // fdatasyncs that succeeded
  std::atomic<uint64_t> failures{0};  // commits that failed

 private:
  std::atomic<bool> writable_{true};
  mutable std::mutex mutex_;
  std::string reason_;
};

// Runs an undo action unless disarmed: if a durable append is refused, or
// lost with a writer that crashed, what its replies would have confirmed is undone.
class undo_guard {
 public:
  explicit undo_guard(std::function<void()> undo) : undo_(std::move(undo)) {}
  ~undo_guard() { fire(); }
  void disarm() { undo_ = nullptr; }
  void fire() {
    auto f = std::move(undo_);
    undo_ = nullptr;
    if (f)
      f();
  }

 private:
  std::function<void()> undo_;
};

// Someone waiting to hear whether records became durable: run(true) after the
// commit, run(false) if they cannot be, and false too if the guard is dropped
// unanswered (the writer died with the records in its buffer).
class durable_signal {
 public:
  explicit durable_signal(std::function<void(bool)> done) : done_(std::move(done)) {}
  ~durable_signal() { run(false); }
  void run(bool durable) {
    auto f = std::move(done_);
    done_ = nullptr;
    if (f)
      f(durable);
  }

 private:
  std::function<void(bool)> done_;
};

// Records to append; optionally, replies to release once they are durable.
struct audit_append {
  std::vector<net::auth_event> events;
  std::shared_ptr<net::owed_replies> owed;  // null: nobody waits for these records
  net::reply_buffer replies;                // frames answering `request_ids`, after the commit
  std::vector<uint64_t> request_ids;
  std::shared_ptr<undo_guard> undo;         // may be null
  std::shared_ptr<durable_signal> signal;   // may be null
};

// What the writer does with an append once its commit succeeded: disarms
// the undo, runs the signal, then releases the replies (in that order).
void release_durable(audit_append& a);
// Once its commit failed: refuses the replies, fires the undo, signals.
void refuse_append(audit_append& a, const std::string& why);

using audit_writer = caf::typed_actor<
  // Appends the events; delivers `replies` after they are durable, or
  // `unavailable` for every request id if they cannot be made durable (or
  // the writer dies first: the owed replies answer for themselves).
  caf::reacts_to<audit_append>,
  // Fault injection: throws. The log outlives the actor; a restarted writer
  // drops what its predecessor buffered but never committed (those requests
  // were already answered `unavailable` by their owed replies) and resumes
  // the chain from the last durable record.
  caf::reacts_to<crash_atom>>;

// Spawns the writer over an opened log. `enabled` false: records are
// dropped and replies released at once (benchmarks only; docs/configuration.md).
// `metrics` (may be null) must outlive the writer.
audit_writer spawn_audit_writer(caf::actor_system& sys, std::shared_ptr<audit_log> log,
                                std::shared_ptr<audit_health> health, bool enabled,
                                actors::audit_metrics* metrics = nullptr);


}  // namespace castellan::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(castellan::actors::audit_append)
