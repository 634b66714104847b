// Fan-in: several parts of one piece of work (shards, members, the local log
// and the replicas) answer on whatever thread they run, and one completion
// sees their combined result exactly once. A part destroyed without answering
// counts as a failure, so work lost with a crashed actor or a dropped message
// still completes: nothing waits forever, nothing succeeds by accident.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>

namespace castellan::actors {

// The contract:
//
//   fan_in<Value, Result> join(rules, done);
//   auto a = join.add(), b = join.add();   // one part per piece of work
//   join.seal();                           // no more parts
//   ... a(value) ... b(value) ...          // on any thread, in any order
//
// - `done(result)` runs exactly once, after seal() and after every part has
//   arrived, on the thread of whichever came last (inline in seal() when every
//   part was in already, or when there were none: then result == rules.start).
// - result = rules.start folded with every part's value, in arrival order,
//   one at a time under the fan-in's lock (fold need not be thread-safe).
// - A part is a shared handle: copies (a std::function holding one, a message
//   carrying one) share one arrival. The first call counts; later calls are
//   ignored. When the last copy goes without a call, the part arrives with
//   rules.lost: a message destroyed in a dead actor's mailbox, a pending
//   entry erased at its deadline, a callback a component never calls.
// - A fan_in destroyed unsealed (the creator threw half-way through handing
//   out parts) folds rules.lost once and seals: the parts it did hand out may
//   still run, but the result cannot be a success that was never checked.
// - The fan_in handle belongs to its creator's thread; parts go anywhere.
// - fold and done must not throw (they may run inside a destructor).
// - Parts hold the shared state; the fan_in handle may go before them.
template <class Value, class Result = Value>
class fan_in {
 public:
  struct rules {
    Result start;                                  // the result before any part, and with none
    Value lost;                                    // what a part dropped unanswered counts as
    std::function<void(Result&, Value&&)> fold;    // adds one part's value to the result
  };
  using done_fn = std::function<void(Result)>;

 private:
  // Counts what is outstanding: the parts handed out, plus the creator's
  // own share until seal().
  class core {
   public:
    core(rules r, done_fn done) : rules_(std::move(r)), done_(std::move(done)) {}

    void add() {
      std::lock_guard<std::mutex> guard(mutex_);
      ++outstanding_;
    }
    // A part's value (or rules.lost for a part dropped unanswered).
    void arrive(Value&& v) {
      std::unique_lock<std::mutex> guard(mutex_);
      rules_.fold(result_, std::move(v));
      release(guard);
    }
    void arrive_lost() { arrive(Value(rules_.lost)); }
    // The creator's own share: sealed, nothing to fold.
    void seal() {
      std::unique_lock<std::mutex> guard(mutex_);
      release(guard);
    }

   private:
    // One fewer outstanding; the last one runs the completion, outside the
    // lock (the completion may start more work, even on this fan-in's parts).
    void release(std::unique_lock<std::mutex>& guard) {
      if (--outstanding_ > 0)
        return;
      auto done = std::move(done_);
      done_ = nullptr;
      guard.unlock();
      if (done)
        done(std::move(result_));
    }

    std::mutex mutex_;
    size_t outstanding_ = 1;
    rules rules_;
    Result result_{rules_.start};
    done_fn done_;
  };

  // One part's single arrival, shared by every copy of its handle.
  class slot {
   public:
    explicit slot(std::shared_ptr<core> c) : core_(std::move(c)) {}
    slot(const slot&) = delete;
    slot& operator=(const slot&) = delete;
    ~slot() {
      if (!arrived_.exchange(true, std::memory_order_acq_rel))
        core_->arrive_lost();
    }
    void arrive(Value&& v) {
      if (!arrived_.exchange(true, std::memory_order_acq_rel))
        core_->arrive(std::move(v));
    }

   private:
    std::shared_ptr<core> core_;
    std::atomic<bool> arrived_{false};
  };

 public:
  // A handle to one part: call it (or arrive()) once with the part's value.
  // Copyable: copies share the one arrival. Default-constructed: no part.
  class part {
   public:
    part() = default;
    void arrive(Value v) const {
      if (slot_)
        slot_->arrive(std::move(v));
    }
    void operator()(Value v) const { arrive(std::move(v)); }
    explicit operator bool() const { return slot_ != nullptr; }

   private:
    friend class fan_in;
    explicit part(std::shared_ptr<slot> s) : slot_(std::move(s)) {}
    std::shared_ptr<slot> slot_;
  };

  fan_in(rules r, done_fn done) : core_(std::make_shared<core>(std::move(r), std::move(done))) {}
  fan_in(fan_in&&) noexcept = default;
  fan_in(const fan_in&) = delete;
  fan_in& operator=(const fan_in&) = delete;
  fan_in& operator=(fan_in&&) = delete;
  ~fan_in() {
    if (core_)
      core_->arrive_lost();
  }

  // One more part. Only before seal().
  part add() {
    core_->add();
    return part(std::make_shared<slot>(core_));
  }

  // No more parts: the completion runs once those handed out have arrived
  // (now, if they all have). Once only.
  void seal() {
    auto c = std::move(core_);
    if (c)
      c->seal();
  }

 private:
  std::shared_ptr<core> core_;
};

// The common case: true only if every part says true (durable everywhere,
// handed over everywhere); a dropped part says false.
inline fan_in<bool> all_ok(std::function<void(bool)> done) {
  return fan_in<bool>({true, false, [](bool& all, bool&& ok) { all = all && ok; }},
                      std::move(done));
}

}  // namespace castellan::actors
