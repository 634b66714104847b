// The event stream; see event_stream.hpp.
#include "actors/audit/event_stream.hpp"

#include <algorithm>

#include <caf/send.hpp>
#include <caf/typed_actor.hpp>

#include "actors/runtime/fan_in.hpp"


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
  caf::anon_send(writer_->get(), audit_append{std::move(events), nullptr, {}, {}, nullptr, nullptr});
}

namespace {

// Where the other holders' share of a durable publish goes: through the link
// when there is one and any other member holds what the events change;
// otherwise nobody else holds them and that share is trivially done.
void replicate_share(replication_link* link, const std::vector<net::auth_event>& events,
                     fan_in<bool>::part replicas) {
  if (!link || !link->replicate(events, replicas))
    replicas(true);
}

// The local log's share: the writer answers it after its group commit (or
// drops it unanswered if it dies first: a failure, fan_in.hpp).
audit_append local_share(std::vector<net::auth_event> events, fan_in<bool>::part local) {
  return audit_append{std::move(events), nullptr, {}, {}, nullptr,
                      std::make_shared<durable_signal>(std::move(local))};
}

// Login outcomes, which the listener (the limiter) learns from.
bool teaches(const std::vector<net::auth_event>& events) {
  return std::any_of(events.begin(), events.end(), [](const net::auth_event& e) {
    auto kind = e.type();
    return kind == net::event_kind::login_ok || kind == net::event_kind::login_failed;
  });
}

}  // namespace

std::function<void(bool)> event_stream::learn_once_durable(const std::vector<net::auth_event>& events,
                                                           std::function<void(bool)> done) const {
  if (!listener_ || !teaches(events))
    return done;
  return [learn = listener_, events, done = std::move(done)](bool durable) {
    if (durable)
      learn(events);
    if (done)
      done(durable);
  };
}

void event_stream::publish_durable(std::vector<net::auth_event> events,
                                   std::function<void(bool)> done) {
  done = learn_once_durable(events, std::move(done));
  // Durable only once this node's log and every other holder have them.
  auto join = all_ok(std::move(done));
  replicate_share(link_.load(), events, join.add());
  caf::anon_send(writer_->get(), local_share(std::move(events), join.add()));
  join.seal();
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
                                   std::function<void()> on_failure, bool teach) {
  auto learned = teach ? learn_once_durable(events, {}) : std::function<void(bool)>();
  if (auto* link = link_.load(); link && owed) {
    // The replies wait for this node's log and every replica: the client
    // hears `ok` only for what survives a node's death. A share lost on the
    // way (a writer or a cluster node that died with it) fails the write.
    auto join = all_ok([owed, replies = std::move(replies), ids = std::move(request_ids),
                        on_failure = std::move(on_failure), learned](bool ok) mutable {
      if (learned)
        learned(ok);
      if (ok) {
        owed->deliver(std::move(replies), ids);
        return;
      }
      owed->refuse(ids, "the change could not be made durable on every holder; retry");
      if (on_failure)
        on_failure();
    });
    replicate_share(link, events, join.add());
    caf::anon_send(writer_->get(), local_share(std::move(events), join.add()));
    join.seal();
    return;
  }
  auto undo = on_failure ? std::make_shared<undo_guard>(std::move(on_failure)) : nullptr;
  auto signal = learned ? std::make_shared<durable_signal>(std::move(learned)) : nullptr;
  caf::anon_send(writer_->get(), audit_append{std::move(events), std::move(owed),
                                              std::move(replies), std::move(request_ids),
                                              std::move(undo), std::move(signal)});
}

}  // namespace castellan::actors
