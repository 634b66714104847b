// The audit writer actor; see audit_writer.hpp.
//
// Group commit without timers: each append buffers its records and, if no
// flush is queued yet, queues one flush message behind it. Appends that
// arrive while a flush is syncing wait in the mailbox and share the next
// fdatasync, so batches grow with load and a lone record is synced at once.
#include "actors/audit/audit_writer.hpp"

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include "actors/storage/audit_log.hpp"
#include "actors/runtime/mailbox_sample.hpp"
#include "actors/audit/audit_metrics.hpp"
#include "config/logging.hpp"

namespace castellan::actors {

// Whoever waits on the records hears before the client does: a limiter
// learning a failed login has counted it before its client can try again.
void release_durable(audit_append& a) {
  if (a.undo)
    a.undo->disarm();
  if (a.signal)
    a.signal->run(true);
  if (a.owed)
    a.owed->deliver(std::move(a.replies), a.request_ids);
}

void refuse_append(audit_append& a, const std::string& why) {
  if (a.owed)
    a.owed->refuse(a.request_ids, why);
  if (a.undo)
    a.undo->fire();
  if (a.signal)
    a.signal->run(false);
}

std::string audit_health::reason() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return reason_;
}

void audit_health::set_failed(std::string reason) {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    reason_ = std::move(reason);
  }
  writable_.store(false, std::memory_order_release);
}

void audit_health::set_ok() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    reason_.clear();
  }
  writable_.store(true, std::memory_order_release);
}

namespace {

using writer_impl = audit_writer::extend<caf::reacts_to<flush_atom>, caf::reacts_to<retry_atom>>;

struct writer_state {
  std::shared_ptr<audit_log> log;
  std::shared_ptr<audit_health> health;
  bool enabled = true;
  actors::audit_metrics* metrics = nullptr;
  std::vector<audit_append> waiting;  // appended, not yet durable
  bool flush_queued = false;
  bool retry_queued = false;
  static inline const char* name = "audit_writer";
};

void append_events(writer_state& st, const std::vector<net::auth_event>& events) {
  msgpack::sbuffer body;
  for (auto& e : events) {
    body.clear();
    msgpack::pack(body, e);
    st.log->append(body.data(), body.size());
  }
}

// Commits what is buffered; on failure refuses everyone waiting.
void flush(writer_impl::stateful_pointer<writer_state> self) {
  auto& st = self->state;
  st.flush_queued = false;
  size_t records = st.log->buffered_records();
  auto bytes_before = st.log->bytes_written();
  auto started = std::chrono::steady_clock::now();
  try {
    st.log->commit();
  } catch (const audit_error& e) {
    st.health->failures.fetch_add(1, std::memory_order_relaxed);
    st.health->set_failed(e.what());
    if (st.metrics) {
      st.metrics->commit_failures->Increment();
      st.metrics->writable->Set(0);
      st.metrics->queue_depth->Set(0);
    }
    spdlog::error("audit log not writable, failing closed: {}", e.what());
    for (auto& a : st.waiting)
      refuse_append(a, "audit log not writable");
    st.waiting.clear();
    if (!st.retry_queued) {
      st.retry_queued = true;
      self->delayed_send(self, std::chrono::seconds(1), retry_atom_v);
    }
    return;
  }
  st.health->records.fetch_add(records, std::memory_order_relaxed);
  st.health->commits.fetch_add(1, std::memory_order_relaxed);
  if (st.metrics) {
    st.metrics->commit_seconds->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    st.metrics->records->Increment(static_cast<double>(records));
    st.metrics->bytes->Increment(static_cast<double>(st.log->bytes_written() - bytes_before));
    st.metrics->queue_depth->Set(0);
  }
  for (auto& a : st.waiting)
    release_durable(a);
  st.waiting.clear();
}

writer_impl::behavior_type writer_behavior(writer_impl::stateful_pointer<writer_state> self,
                                           std::shared_ptr<audit_log> log,
                                           std::shared_ptr<audit_health> health, bool enabled,
                                           actors::audit_metrics* metrics) {
  self->state.metrics = metrics;
  self->state.log = std::move(log);
  self->state.log->discard_buffer();
  self->state.health = std::move(health);
  self->state.enabled = enabled;
  // The writer stops last; whatever is buffered then is committed (and its
  // replies released) before it goes. The state dies with the actor, so this
  // must run in the exit handler, not after termination.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (self->state.enabled && !self->state.waiting.empty())
      flush(self);
    self->quit(msg.reason);
  });
  return {
    [=](audit_append& a) {
      auto& st = self->state;
      if (!st.enabled) {
        release_durable(a);
        return;
      }
      if (!st.health->writable()) {
        refuse_append(a, "audit log not writable");
        return;
      }
      append_events(st, a.events);
      st.waiting.push_back(std::move(a));
      if (st.metrics)
        st.metrics->queue_depth->Set(static_cast<double>(st.waiting.size()));
      if (!st.flush_queued) {
        st.flush_queued = true;
        self->send(self, flush_atom_v);
      }
      if (st.metrics)
        sample_mailbox(self, st.metrics->mailbox_depth);
    },
    [=](flush_atom) { flush(self); },
    [=](crash_atom) { throw std::runtime_error("audit writer crash (fault injection)"); },
    [=](retry_atom) {
      auto& st = self->state;
      st.retry_queued = false;
      try {
        st.log->repair();
        st.health->set_ok();
        if (st.metrics)
          st.metrics->writable->Set(1);
        spdlog::info("audit log writable again");
      } catch (const audit_error& e) {
        st.health->set_failed(e.what());
        st.retry_queued = true;
        self->delayed_send(self, std::chrono::seconds(1), retry_atom_v);
      }
    },
  };
}

}  // namespace

audit_writer spawn_audit_writer(caf::actor_system& sys, std::shared_ptr<audit_log> log,
                                std::shared_ptr<audit_health> health, bool enabled,
                                actors::audit_metrics* metrics) {
  return caf::actor_cast<audit_writer>(sys.spawn<caf::detached>(
      writer_behavior, std::move(log), std::move(health), enabled, metrics));
}

}  // namespace castellan::actors
