// The event stream; see event_stream.hpp.
#include "actors/audit/event_stream.hpp"

#include <algorithm>
#include <mutex>

#include <caf/send.hpp>
#include <caf/typed_actor.hpp>


namespace castellan::actors {

event_stream::event_stream(std::string node, slot_ptr<audit_writer> writer)
    : node_(std::move(node)), writer_(std::move(writer)) {}

void event_stream::publish(std::vector<net::auth_event> events) {
  if (events.empty())
    return;
  tell_listener(events);
  // Lockouts go to the other holders of their key, so the next owner keeps
  // enforcing them if this one dies (nobody waits: docs/cluster.md).
  auto* link = link_.load();
  if (link && std::any_of(events.begin(), events.end(),
                          lockout_kind))
    link->replicate(events, [](bool) {});
  caf::anon_send(writer_->get(), audit_append{std::move(events), nullptr, {}, {}, nullptr});
}

namespace {

// Holds a write's replies until this node's log and every replica have the
// records: the client hears `ok` only for what survives a node's death.
// A replica may answer before arm(); it cannot finish the gate, because the
// local log is only asked after arm().
class replication_gate {
 public:
  void arm(std::shared_ptr<net::owed_replies> owed, net::reply_buffer replies,
           std::vector<uint64_t> ids, std::function<void()> on_failure) {
    std::lock_guard<std::mutex> guard(mutex_);
    owed_ = std::move(owed);
    replies_ = std::move(replies);
    ids_ = std::move(ids);
    on_failure_ = std::move(on_failure);
  }

  void arrive(bool ok) {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      ok_ = ok_ && ok;
      if (--waiting_ > 0)
        return;
    }
    if (ok_) {
      owed_->deliver(std::move(replies_), ids_);
      return;
    }
    owed_->refuse(ids_, "the change could not be made durable on every replica; retry");
    if (on_failure_)
      on_failure_();
  }

 private:
  std::mutex mutex_;
  int waiting_ = 2;  // the local log, the replicas
  bool ok_ = true;
  std::shared_ptr<net::owed_replies> owed_;
  net::reply_buffer replies_;
  std::vector<uint64_t> ids_;
  std::function<void()> on_failure_;
};

}  // namespace

namespace {

// Two parts (the local log, the replicas) must both say durable.
struct durable_join {
  std::mutex mutex;
  int waiting = 2;
  bool ok = true;
  std::function<void(bool)> done;
  void arrive(bool part_ok) {
    {
      std::lock_guard<std::mutex> guard(mutex);
      ok = ok && part_ok;
      if (--waiting > 0)
        return;
    }
    done(ok);
  }
};

}  // namespace

void event_stream::publish_durable(std::vector<net::auth_event> events,
                                   std::function<void(bool)> done) {
  tell_listener(events);
  auto join = std::make_shared<durable_join>();
  join->done = std::move(done);
  auto* link = link_.load();
  if (!link || !link->replicate(events, [join](bool ok) { join->arrive(ok); }))
    join->waiting = 1;  // nobody else holds these sessions
  caf::anon_send(writer_->get(), audit_append{std::move(events), nullptr, {}, {}, nullptr,
                                              std::make_shared<durable_signal>(
                                                  [join](bool ok) { join->arrive(ok); })});
}

void event_stream::append_durable(std::vector<net::auth_event> events,
                                  std::function<void(bool)> done) {
  if (events.empty()) {
    done(true);
    return;
  }
  caf::anon_send(writer_->get(), audit_append{std::move(events), nullptr, {}, {}, nullptr,
                                              std::make_shared<durable_signal>(std::move(done))});
}

void event_stream::publish_durable(std::vector<net::auth_event> events,
                                   std::shared_ptr<net::owed_replies> owed, net::reply_buffer replies,
                                   std::vector<uint64_t> request_ids,
                                   std::function<void()> on_failure) {
  tell_listener(events);
  if (auto* link = link_.load(); link && owed) {
    auto gate = std::make_shared<replication_gate>();
    if (link->replicate(events, [gate](bool ok) { gate->arrive(ok); })) {
      gate->arm(std::move(owed), std::move(replies), std::move(request_ids), std::move(on_failure));
      caf::anon_send(writer_->get(),
                     audit_append{std::move(events), nullptr, {}, {}, nullptr,
                                  std::make_shared<durable_signal>(
                                      [gate](bool ok) { gate->arrive(ok); })});
      return;
    }
  }
  auto undo = on_failure ? std::make_shared<undo_guard>(std::move(on_failure)) : nullptr;
  caf::anon_send(writer_->get(), audit_append{std::move(events), std::move(owed),
                                              std::move(replies), std::move(request_ids),
                                              std::move(undo)});
}

}  // namespace castellan::actors
