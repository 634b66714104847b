// Limiter shard actor: a thin behavior around limiter_table; see
// limiter_shard.hpp. Lockout starts and ends become events.
#include "actors/limiter/limiter_shard.hpp"

#include <chrono>
#include <map>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include "actors/limiter/limiter_link.hpp"
#include "actors/runtime/handover.hpp"
#include "actors/runtime/mailbox_sample.hpp"
#include "actors/limiter/limiter_metrics.hpp"
#include "actors/audit/event_stream.hpp"
#include "net/wall_clock.hpp"

namespace castellan::actors {

using net::wall_ms;

void fold_limit(limit_answer& worst, limit_answer&& a) {
  if (worst.d.failed)
    return;
  if (a.d.failed || (!a.d.allowed && (worst.d.allowed || a.d.retry_after_ms > worst.d.retry_after_ms)))
    worst = std::move(a);
}

limit_join make_limit_join(std::function<void(const decision&, key_kind)> done) {
  limit_answer lost;
  lost.d.allowed = false;
  lost.d.failed = true;
  return limit_join({limit_answer{}, lost, fold_limit},
                    [done = std::move(done)](limit_answer a) { done(a.d, a.refused_by); });
}

size_t limiter_index(const limit_key& key, size_t count) {
  size_t h = std::hash<std::string>{}(key.value) ^ (static_cast<size_t>(key.kind) * 0x9E3779B97F4A7C15ull);
  return h % count;
}

namespace {

using namespace std::chrono;
using limiter_impl = limiter_shard::extend<caf::reacts_to<sweep_atom>>;

struct limiter_state {
  std::shared_ptr<limiter_table> table;
  std::shared_ptr<event_stream> events;
  limiter_settings settings;
  uint64_t reported_full = 0;     // table->refused_full() when last reported
  uint64_t reported_evicted = 0;  // table->evicted() when last reported
  static inline const char* name = "limiter_shard";
};

// The record of a lockout of `c.key`: it names who is locked, the user, the
// IP or both (the inverse of lockout_key()); `user`/`ip` of the login, when known.
net::auth_event lockout_record(const event_stream& events, const lockout_change& c,
                               const std::string& user, const std::string& ip) {
  auto e = events.make(c.started ? net::event_kind::lockout_started : net::event_kind::lockout_ended);
  e.reason = to_string(c.key.kind);
  e.until_ms = c.until_ms;
  e.user = c.key.kind == key_kind::ip ? "" : (user.empty() ? c.key.value.substr(0, c.key.value.find('|')) : user);
  e.ip = c.key.kind == key_kind::user ? ip
                                      : (c.key.kind == key_kind::ip ? c.key.value
                                                                    : c.key.value.substr(c.key.value.find('|') + 1));
  return e;
}

void publish_changes(limiter_state& st, const std::vector<lockout_change>& changes,
                     const std::string& user, const std::string& ip) {
  if (changes.empty())
    return;
  std::vector<net::auth_event> out;
  for (auto& c : changes) {
    if (c.started && st.settings.metrics)
      st.settings.metrics->lockouts->Increment();
    out.push_back(lockout_record(*st.events, c, user, ip));
  }
  st.events->publish(std::move(out));
}

// After each message that may have changed the table: what operators watch
// to see a shard filling with keys it may not evict (docs/metrics.md).
// The counters are the table's (they outlive a restart of this actor); the
// metrics get what was added since the last report.
void report_table(limiter_state& st) {
  auto& t = *st.table;
  if (st.settings.protected_keys)
    st.settings.protected_keys->Set(static_cast<double>(t.protected_keys()));
  if (auto* m = st.settings.metrics) {
    if (t.refused_full() > st.reported_full)
      m->refused_full->Increment(static_cast<double>(t.refused_full() - st.reported_full));
    if (t.evicted() > st.reported_evicted)
      m->evicted->Increment(static_cast<double>(t.evicted() - st.reported_evicted));
  }
  st.reported_full = t.refused_full();
  st.reported_evicted = t.evicted();
}

// Sends every lockout in force to the members that now hold its key too.
void hand_over(limiter_state& st, rebalance& msg) {
  std::map<std::string, std::vector<net::auth_event>> out;
  st.table->for_each_lockout(wall_ms(), [&](const limit_key& key, int64_t until) {
    for (auto& member :
         handover_targets(msg.before.get(), *msg.after, msg.self, limiter_ring_hash(key))) {
      auto e = lockout_record(*st.events, {key, true, until}, "", "");
      e.reason = to_string(key.kind);
      out[member].push_back(std::move(e));
    }
  });
  for (auto& [member, records] : out)
    msg.send(member, std::move(records));
  msg.done(true);
}

limiter_impl::behavior_type limiter_behavior(limiter_impl::stateful_pointer<limiter_state> self,
                                             limiter_settings settings,
                                             std::shared_ptr<limiter_table> table,
                                             std::shared_ptr<event_stream> events) {
  self->state.table = std::move(table);
  self->state.events = std::move(events);
  self->state.settings = settings;
  self->state.reported_full = self->state.table->refused_full();
  self->state.reported_evicted = self->state.table->evicted();
  self->delayed_send(self, milliseconds(settings.sweep_interval_ms), sweep_atom_v);
  return {
    [=](limit_check& c) {
      std::vector<lockout_change> changes;
      limit_answer worst;
      auto now = wall_ms();
      std::vector<decision> answers;
      self->state.table->check(c.keys, now, changes, answers);
      for (size_t i = 0; i < c.keys.size(); ++i)
        fold_limit(worst, {answers[i], c.keys[i].kind});
      report_table(self->state);
      // Changes first: a lockout that ended is recorded before the login it
      // lets through can be.
      publish_changes(self->state, changes, "", "");
      c.part(std::move(worst));
      sample_mailbox(self, self->state.settings.mailbox_depth);
    },
    [=](limit_outcome& o) {
      std::vector<lockout_change> changes;
      auto now = wall_ms();
      for (auto& k : o.keys)
        self->state.table->record(k, o.success, now, changes);
      report_table(self->state);
      publish_changes(self->state, changes, o.user, o.ip);
    },
    [=](rate_policies& p) { self->state.table->set_policies(p); },
    [=](rebalance& msg) { hand_over(self->state, msg); },
    [=](lockout_apply& a) {
      // A lockout ends by its own clock on every holder; an ended record
      // never clears anything here (it could race a newer lockout).
      std::vector<lockout_change> changes;
      auto now = wall_ms();
      for (auto& e : a.events)
        if (auto key = lockout_key(e); key && e.type() == net::event_kind::lockout_started)
          self->state.table->restore_lockout(*key, e.until_ms, 1, now, changes);
      report_table(self->state);
      publish_changes(self->state, changes, "", "");
      // Recorded too, so this member's own recovery restores them.
      self->state.events->append_durable(std::move(a.events), std::move(a.done));
    },
    [=](crash_atom) { throw std::runtime_error("limiter shard crash (fault injection)"); },
    [=](sweep_atom) {
      std::vector<lockout_change> changes;
      self->state.table->sweep(wall_ms(), self->state.settings.sweep_budget, changes);
      report_table(self->state);
      publish_changes(self->state, changes, "", "");
      self->delayed_send(self, milliseconds(self->state.settings.sweep_interval_ms), sweep_atom_v);
    },
  };
}

}  // namespace

limiter_shard spawn_limiter_shard(caf::actor_system& sys, const limiter_settings& settings,
                                  std::shared_ptr<limiter_table> table,
                                  std::shared_ptr<event_stream> events) {
  return caf::actor_cast<limiter_shard>(
      sys.spawn(limiter_behavior, settings, std::move(table), std::move(events)));
}

}  // namespace castellan::actors
