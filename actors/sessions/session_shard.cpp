// Session shard actor: a thin behavior around session_table. Work arrives in
// batches (one per client socket read) and leaves as one buffer of encoded
// reply frames, so a busy connection costs one message each way per read.
#include "actors/sessions/session_shard.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include "actors/runtime/crash_targets.hpp"
#include "actors/runtime/handover.hpp"
#include "actors/runtime/mailbox_sample.hpp"
#include "actors/sessions/session_metrics.hpp"
#include "actors/audit/event_stream.hpp"
#include "actors/sessions/session_table.hpp"
#include "actors/sessions/write_inbox.hpp"
#include "actors/sessions/revoke_user.hpp"
#include "net/messages.hpp"
#include "net/wall_clock.hpp"

namespace castellan::actors {

using net::wall_ms;
namespace {

using namespace std::chrono;

// The shard's own self-messages live on an untyped extension of its interface.
using shard_impl = session_shard::extend<caf::reacts_to<sweep_atom>>;

struct shard_state {
  // Owned outside the actor (like an ETS table with an heir): a restarted
  // shard continues with the same sessions. Every table operation either
  // completes or throws before changing anything.
  std::shared_ptr<session_table> table;
  std::shared_ptr<event_stream> events;
  std::shared_ptr<audit_health> audit;
  // The newest users snapshot this shard has applied. A login checked its
  // password against an older one; open() looks the user up again here, so
  // a user disabled meanwhile never gets a session.
  std::shared_ptr<const config::users_table> users;
  actors::session_metrics* metrics = nullptr;  // thread-safe handles, may be null
  prometheus::Gauge* mailbox_depth = nullptr;
  std::shared_ptr<const crash_targets> crash;
  bool crash_at_handover = false;  // debug_crash session_shard_at_handover: the next rebalance throws
  // Writes recorded and not yet applied. A hand-over waits for those in
  // flight when it arrives: a write whose replicas were chosen before the
  // holders changed reaches a new holder only through the hand-over, so
  // the hand-over must carry its result (a logout acknowledged meanwhile
  // would otherwise reach the new holder as a live session).
  // Oldest first: groups land in about the order they were recorded.
  std::deque<std::weak_ptr<write_group>> in_flight;
  struct waiting_handover {
    rebalance msg;
    std::deque<std::weak_ptr<write_group>> after;
  };
  std::deque<waiting_handover> handovers;
  milliseconds sweep_interval{1000};
  uint32_t max_lifetime_s = 43200;
  size_t capacity = 0;
  static inline const char* name = "session_shard";
};

// Replies of one batch: reads leave at once; writes are recorded first and
// answered once applied (apply_settled below).
struct batch_replies {
  net::reply_buffer now;
  std::vector<uint64_t> now_ids;
  std::vector<session_write> writes;
  std::vector<net::auth_event> events;
};

// Why a confirm-only read (net/backend.hpp) did not deny the session.
constexpr const char* unconfirmed_refusal =
    "this member has not been heard by a majority of the cluster recently and may have missed "
    "sessions opened or refreshed elsewhere, so it cannot say this one is not live; retry on "
    "another member";

void answer_lookup_failure(lookup_status status, uint64_t id, net::reply_buffer& out,
                           std::vector<uint64_t>& ids) {
  if (status == lookup_status::expired)
    out.add_error(id, net::error_code::expired, "session expired");
  else
    out.add_error(id, net::error_code::invalid_token, "no such session");
  ids.push_back(id);
}

// The log first, then the state: a write's record goes to the audit log; the
// table changes when the writer settles it into the inbox (apply_settled),
// or not at all. `unavailable` therefore always means nothing changed.
void record_then_apply(shard_state& st, std::vector<net::auth_event> events,
                       std::shared_ptr<write_group> group) {
  st.in_flight.push_back(group);
  st.events->publish_durable(std::move(events), [table = st.table, group](bool durable) {
    table->inbox().settle(group, durable);
  });
}

// A refresh or logout of a live session, as a write and its record.
void ask_write(shard_state& st, const net::session_op& op, int64_t now, batch_replies& r) {
  if (!st.audit->writable()) {
    r.now.add_error(op.request_id, net::error_code::unavailable, "audit log not writable");
    r.now_ids.push_back(op.request_id);
    return;
  }
  auto found = st.table->validate(op.key, now);
  if (found.status != lookup_status::ok && op.confirm_only) {
    r.now.add_error(op.request_id, net::error_code::unavailable, unconfirmed_refusal);
    r.now_ids.push_back(op.request_id);
    return;
  }
  if (found.status != lookup_status::ok)
    return answer_lookup_failure(found.status, op.request_id, r.now, r.now_ids);
  bool refresh = op.kind == net::op_kind::refresh;
  auto e = st.events->make(refresh ? net::event_kind::refresh : net::event_kind::logout);
  e.user = found.found->user->name;
  e.session = net::session_digest(op.key);
  // A refresh's record carries the new expiry; a logout's how long the end
  // must be remembered (replicas keep the tombstone that long).
  e.until_ms = refresh ? st.table->refreshed_expiry(*found.found, now) : found.found->expires_ms;
  r.writes.push_back(write_of(refresh ? session_write::kind::refresh : session_write::kind::end,
                              op.key, e, op.request_id));
  r.events.push_back(std::move(e));
}

void answer(shard_state& st, const net::session_op& op, int64_t now, batch_replies& r) {
  if (op.kind == net::op_kind::refresh || op.kind == net::op_kind::logout)
    return ask_write(st, op, now, r);
  if (op.kind != net::op_kind::validate) {
    r.now.add_error(op.request_id, net::error_code::malformed, "not a session op");
    r.now_ids.push_back(op.request_id);
    return;
  }
  auto found = st.table->validate(op.key, now);
  if (found.status != lookup_status::ok && op.confirm_only) {
    r.now.add_error(op.request_id, net::error_code::unavailable, unconfirmed_refusal);
    r.now_ids.push_back(op.request_id);
    return;
  }
  if (found.status != lookup_status::ok)
    return answer_lookup_failure(found.status, op.request_id, r.now, r.now_ids);
  r.now.add(net::validate_reply{op.request_id, true, found.found->user->name,
                                found.found->user->roles, found.found->expires_ms});
  r.now_ids.push_back(op.request_id);
}

// -- applying settled writes ---------------------------------------------------

// The user a login's session is opened for, if still enabled in the newest
// users snapshot this shard applied (it may have been disabled meanwhile).
const config::user_record* enabled_user(const shard_state& st, const user_ref& user) {
  const auto* current = st.users->find(user->name);
  return current && current->enabled ? current : nullptr;
}

// Applies one durable write; adds its reply when `answer`. True if it took effect.
bool apply_write(shard_state& st, session_write& w, bool answer, net::reply_buffer& out) {
  switch (w.what) {
    case session_write::kind::open: {
      st.table->opened_or_dropped();
      const auto* user = enabled_user(st, w.user);
      if (!user) {
        // Disabled between the password check and now: the users file wins
        // here as it does in recovery (the session is dropped there too).
        if (answer)
          out.add_error(w.request_id, net::error_code::forbidden, "user is disabled");
        return false;
      }
      st.table->restore(w.key, user_ref(st.users, user), w.at_ms, w.until_ms);
      if (answer)
        out.add(net::login_reply{w.request_id, true, std::move(w.token), user->name, user->roles,
                                 w.until_ms});
      return true;
    }
    case session_write::kind::refresh: {
      auto expires = st.table->extend(w.key, w.until_ms);
      if (answer && expires)
        out.add(net::refresh_reply{w.request_id, true, *expires});
      else if (answer)
        out.add_error(w.request_id, net::error_code::invalid_token, "no such session");
      return expires.has_value();
    }
    case session_write::kind::end: {
      bool ended = st.table->logout(w.key);
      if (answer && ended)
        out.add(net::logout_reply{w.request_id, true});
      else if (answer)
        out.add_error(w.request_id, net::error_code::invalid_token, "no such session");
      return ended;
    }
  }
  return false;
}

void count_applied(shard_state& st, const session_write& w) {
  if (!st.metrics)
    return;
  if (w.what == session_write::kind::open)
    st.metrics->opened->Increment();
  else if (w.what == session_write::kind::end)
    st.metrics->logged_out->Increment();
}

void apply_group(shard_state& st, write_group& g) {
  bool answer = static_cast<bool>(g.owed);
  std::vector<uint64_t> ids;
  for (auto& w : g.writes)
    ids.push_back(w.request_id);
  if (!g.durable) {
    for (auto& w : g.writes)
      if (w.what == session_write::kind::open)
        st.table->opened_or_dropped();
    if (answer)
      g.owed->refuse(ids, "the change could not be recorded durably; nothing changed; retry");
    g.applied = true;
    if (g.done)
      g.done(0, false);
    return;
  }
  net::reply_buffer out;
  uint64_t applied = 0;
  for (auto& w : g.writes)
    if (apply_write(st, w, answer, out)) {
      ++applied;
      count_applied(st, w);
    }
  if (answer)
    g.owed->deliver(std::move(out), ids);
  g.applied = true;
  if (g.done)
    g.done(applied, true);
}

bool landed(const std::weak_ptr<write_group>& w) {
  auto g = w.lock();
  return !g || g->applied;  // dropped unrecorded, or applied
}

void hand_over(shard_state& st, rebalance& msg);

// Forgets the writes that landed, from the oldest on: cheap on every
// apply, and what lands out of order goes once those before it have.
void forget_landed(shard_state& st) {
  while (!st.in_flight.empty() && landed(st.in_flight.front()))
    st.in_flight.pop_front();
}

// Hand-overs whose writes in flight have all landed, in arrival order.
void run_handovers(shard_state& st) {
  forget_landed(st);
  while (!st.handovers.empty() &&
         std::all_of(st.handovers.front().after.begin(), st.handovers.front().after.end(), landed)) {
    auto next = std::move(st.handovers.front());
    st.handovers.pop_front();
    hand_over(st, next.msg);
  }
}

void apply_settled(shard_state& st) {
  for (auto& group : st.table->inbox().take())
    apply_group(st, *group);
  run_handovers(st);
}

// Erases the sessions due by now, counting each as expired and recording it
// as session_expired (defined with the periodic sweep below): a full shard
// making room for a login ends sessions no other way than the sweeper does.
void sweep(shard_state& st);

// Room for one more session: those held plus those being opened.
bool has_room(shard_state& st) {
  if (st.table->size_with_opening() < st.capacity)
    return true;
  sweep(st);  // make room from what is already due
  return st.table->size_with_opening() < st.capacity;
}

void open(shard_state& st, open_session& req) {
  if (!has_room(st)) {
    req.owed->refuse({req.request_id}, "session table full");
    return;
  }
  const auto* current = st.users->find(req.user->name);
  if (!current || !current->enabled) {
    auto e = st.events->make(net::event_kind::login_failed);
    e.user = req.user->name;
    e.ip = req.ip;
    e.reason = current ? "user_disabled" : "unknown_user";
    net::reply_buffer out;
    if (current)
      out.add_error(req.request_id, net::error_code::forbidden, "user is disabled");
    else
      out.add_error(req.request_id, net::error_code::bad_credentials, "wrong user or password");
    st.events->publish_durable({std::move(e)}, req.owed, std::move(out), {req.request_id});
    return;
  }
  auto e = st.events->make(net::event_kind::login_ok);
  e.user = current->name;
  e.ip = req.ip;
  e.session = net::session_digest(req.key);
  e.until_ms = st.table->new_expiry(e.time_ms);
  auto group = std::make_shared<write_group>();
  group->owed = std::move(req.owed);
  auto& w = group->writes.emplace_back(write_of(session_write::kind::open, req.key, e, req.request_id));
  w.user = user_ref(st.users, current);
  w.token = std::move(req.token);
  st.table->opening();
  record_then_apply(st, {std::move(e)}, std::move(group));
}

bool is_admin(const config::user_record& user) {
  return std::find(user.roles.begin(), user.roles.end(), "admin") != user.roles.end();
}

// Opens the sessions as logins would (same records, same write path),
// minus the password check; `done` is answered once they are applied.
void populate(shard_state& st, populate_sessions& p) {
  std::vector<net::auth_event> events;
  events.reserve(p.keys.size());
  auto group = std::make_shared<write_group>();
  for (auto& key : p.keys) {
    if (st.table->size_with_opening() >= st.capacity)
      break;
    auto e = st.events->make(net::event_kind::login_ok);
    e.user = p.user->name;
    e.reason = "populate";
    e.session = net::session_digest(key);
    e.until_ms = st.table->new_expiry(e.time_ms);
    group->writes.emplace_back(write_of(session_write::kind::open, key, e)).user = p.user;
    events.push_back(std::move(e));
    st.table->opening();
  }
  group->done = [owed = std::move(p.done)](uint64_t applied, bool durable) {
    net::reply_buffer out;
    if (durable)
      out.add(net::debug_populate_reply{0, true, applied});
    else
      out.add_error(0, net::error_code::unavailable, "the sessions could not be recorded");
    owed->deliver(std::move(out), {0});
  };
  record_then_apply(st, std::move(events), std::move(group));
}

// -- cluster: replicas and hand-over ------------------------------------------

// What one change from another node did here.
enum class merge_result {
  applied,    // took effect: record it
  redundant,  // already known (or already over): nothing to record, nothing lost
  refused,    // cannot be held here: the user is unknown or disabled in this users file
};

merge_result merge_one(shard_state& st, const net::auth_event& e, int64_t now) {
  auto key = net::session_key_from_digest(e.session);
  if (!key)
    return merge_result::refused;
  auto kind = e.type();
  if (kind == net::event_kind::logout) {
    int64_t until = e.until_ms ? e.until_ms : now + int64_t{st.max_lifetime_s} * 1000;
    bool changed = st.table->merge_end(*key, until);
    return changed ? merge_result::applied : merge_result::redundant;
  }
  if (kind != net::event_kind::login_ok && kind != net::event_kind::refresh)
    return merge_result::redundant;
  if (e.until_ms <= now)
    return merge_result::redundant;  // already over: nothing to hold
  const auto* user = st.users->find(e.user);
  if (!user || !user->enabled)
    return merge_result::refused;  // this member's users file differs (or has not reloaded yet)
  bool changed = st.table->merge_live(*key, user_ref(st.users, user), e.time_ms, e.until_ms);
  return changed ? merge_result::applied : merge_result::redundant;
}

void apply_replica(shard_state& st, replica_apply& msg) {
  int64_t now = wall_ms();
  std::vector<net::auth_event> applied;
  bool refused = false;
  for (auto& e : msg.events) {
    auto result = merge_one(st, e, now);
    refused = refused || result == merge_result::refused;
    if (result == merge_result::applied)
      applied.push_back(std::move(e));
  }
  // Recorded as the origin wrote them, so this node's recovery restores them.
  // A record this member could not hold is reported: the write is then not
  // on R members, and its client must not hear `ok`.
  st.events->append_durable(std::move(applied), [refused, done = std::move(msg.done)](bool ok) {
    done(ok && !refused);
  });
}

// A session's state as a record another node can merge.
net::auth_event state_record(shard_state& st, const net::session_key& key, const session* live,
                             int64_t until, const std::string& self) {
  auto e = st.events->make(live ? net::event_kind::login_ok : net::event_kind::logout);
  e.session = net::session_digest(key);
  e.reason = "handover";
  e.node = self;
  if (live) {
    e.user = live->user->name;
    e.time_ms = live->created_ms;
    e.until_ms = live->expires_ms;
  } else {
    e.until_ms = until;
  }
  return e;
}

void hand_over(shard_state& st, rebalance& msg) {
  constexpr size_t chunk = 10000;  // records per message to one member
  std::map<std::string, std::vector<net::auth_event>> out;
  std::vector<net::session_key> drop;
  int self_after = msg.after->index_of(msg.self);
  auto visit = [&](const net::session_key& key, const session* live, int64_t until) {
    uint64_t h = actors::ring_hash(key);
    for (auto& member : handover_targets(msg.before.get(), *msg.after, msg.self, h)) {
      auto& batch = out[member];
      batch.push_back(state_record(st, key, live, until, msg.self));
      if (batch.size() >= chunk)
        msg.send(member, std::exchange(batch, {}));
    }
    // A member leaving keeps its copies: requests forwarded to it before the
    // others heard it leave still find them (it stops soon anyway).
    int self_owner = msg.owners ? msg.owners->index_of(msg.self) : -1;
    if (self_after >= 0 && !msg.after->holds(h, static_cast<uint32_t>(self_after)) &&
        (self_owner < 0 || !msg.owners->holds(h, static_cast<uint32_t>(self_owner))))
      drop.push_back(key);
  };
  st.table->for_each([&](const net::session_key& k, const session& s) { visit(k, &s, 0); },
                     [&](const net::session_key& k, int64_t until) { visit(k, nullptr, until); });
  for (auto& [member, batch] : out)
    if (!batch.empty())
      msg.send(member, std::move(batch));
  for (auto& k : drop)
    st.table->forget(k);
  msg.done(true);
}

// This shard's share of a revoke: nothing changes until revoke_in_shards
// has recorded every share in one append and settles this one.
void revoke(shard_state& st, revoke_sessions& msg) {
  revoke_share share;
  share.table = st.table;
  share.writes = std::make_shared<write_group>();
  st.in_flight.push_back(share.writes);
  st.table->for_each(
      [&](const net::session_key& key, const session& s) {
        if (s.user->name != msg.user || (msg.owned && !msg.owned(key)))
          return;
        auto e = st.events->make(net::event_kind::logout);
        e.user = msg.user;
        e.session = net::session_digest(key);
        e.reason = "revoked";
        e.until_ms = s.expires_ms;  // replicas keep the tombstone this long
        share.writes->writes.push_back(write_of(session_write::kind::end, key, e));
        share.records.push_back(std::move(e));
      },
      [](const net::session_key&, int64_t) {});
  msg.share(std::move(share));
}

void sweep(shard_state& st) {
  std::vector<session_table::expired_session> expired;
  st.table->sweep(wall_ms(), &expired);
  if (expired.empty())
    return;
  if (st.metrics)
    st.metrics->expired->Increment(static_cast<double>(expired.size()));
  std::vector<net::auth_event> events;
  events.reserve(expired.size());
  for (auto& x : expired) {
    auto e = st.events->make(net::event_kind::session_expired);
    e.user = std::move(x.user);
    e.session = net::session_digest(x.key);
    events.push_back(std::move(e));
  }
  st.events->publish(std::move(events));
}

// debug_crash, once the caller is known to be an admin: answers, then throws
// (session_shard), arms the next hand-over to throw (session_shard_at_handover)
// or crashes another target.
void answer_crash(shard_state& st, crash_request& req) {
  auto found = st.table->validate(req.key, wall_ms());
  net::reply_buffer out;
  if (found.status != lookup_status::ok) {
    out.add_error(req.request_id, net::error_code::invalid_token, "no such session");
  } else if (!is_admin(*found.found->user)) {
    out.add_error(req.request_id, net::error_code::forbidden, "debug_crash needs the admin role");
  } else if (!st.crash || !st.crash->known(req.target)) {
    out.add_error(req.request_id, net::error_code::malformed,
                  "target must be one of: " + (st.crash ? st.crash->names() : "session_shard"));
  } else {
    out.add(net::debug_crash_reply{req.request_id, true, req.target});
    req.owed->deliver(std::move(out), {req.request_id});
    if (req.target == "session_shard")
      throw std::runtime_error("session shard crash (fault injection)");
    if (req.target == "session_shard_at_handover")
      st.crash_at_handover = true;
    else
      st.crash->crash(req.target);
    return;
  }
  req.owed->deliver(std::move(out), {req.request_id});
}

// Spawned with arguments, not a capturing lambda: CAF 0.17's init_fun_factory
// binds a reference through a null pointer when an actor function takes none
// (caught by UBSan).
shard_impl::behavior_type shard_behavior(shard_impl::stateful_pointer<shard_state> self,
                                         session_shard_deps deps) {
  auto& st = self->state;
  st.users = std::move(deps.users);
  st.metrics = deps.metrics;
  st.mailbox_depth = deps.mailbox_depth;
  st.crash = std::move(deps.crash);
  st.table = std::move(deps.table);
  st.table->apply_users(st.users);  // a restart may come after a reload it missed
  st.capacity = deps.capacity;
  st.events = std::move(deps.events);
  st.audit = std::move(deps.audit);
  st.sweep_interval = milliseconds(deps.cfg.sweep_interval_ms);
  st.max_lifetime_s = deps.cfg.max_lifetime_s;
  // Writes settled while no shard ran (a restart) are applied first.
  st.table->inbox().attach(self->address());
  apply_settled(st);
  self->delayed_send(self, st.sweep_interval, sweep_atom_v);
  return {
    [=](session_batch& msg) {
      auto& batch = msg.batch;
      // Replies are gathered per connection: one write (and one durable
      // release) per connection per batch.
      std::vector<batch_replies> replies(batch.owed.size());
      int64_t now = wall_ms();
      for (auto& op : batch.ops)
        answer(self->state, op, now, replies[op.sink]);
      for (size_t i = 0; i < replies.size(); ++i) {
        auto& r = replies[i];
        if (!r.now_ids.empty())
          batch.owed[i]->deliver(std::move(r.now), r.now_ids);
        if (!r.writes.empty()) {
          auto group = std::make_shared<write_group>();
          group->writes = std::move(r.writes);
          group->owed = batch.owed[i];
          record_then_apply(self->state, std::move(r.events), std::move(group));
        }
      }
      sample_mailbox(self, self->state.mailbox_depth);
    },
    [=](open_session& req) { open(self->state, req); },
    [=](users_update& update) {
      self->state.users = update.users;
      auto removed = self->state.table->apply_users(update.users);
      if (self->state.metrics && removed)
        self->state.metrics->removed->Increment(static_cast<double>(removed));
    },
    [=](crash_atom) { throw std::runtime_error("session shard crash (fault injection)"); },
    [=](crash_request& req) { answer_crash(self->state, req); },
    [=](populate_request& req) {
      auto found = self->state.table->validate(req.admin, wall_ms());
      net::reply_buffer out;
      if (found.status != lookup_status::ok) {
        out.add_error(req.request_id, net::error_code::invalid_token, "no such session");
      } else if (!is_admin(*found.found->user)) {
        out.add_error(req.request_id, net::error_code::forbidden, "debug_populate needs the admin role");
      } else {
        req.on_admin(found.found->user);  // the router sends every shard its share
        return;
      }
      req.owed->deliver(std::move(out), {req.request_id});
    },
    [=](populate_sessions& p) { populate(self->state, p); },
    [=](replica_apply& msg) {
      apply_replica(self->state, msg);
      sample_mailbox(self, self->state.mailbox_depth);
    },
    [=](rebalance& msg) {
      if (self->state.crash_at_handover)  // dies with the hand-over undone: its part reports it
        throw std::runtime_error("session shard crash at hand-over (fault injection)");
      auto& st = self->state;
      forget_landed(st);
      st.handovers.push_back({std::move(msg), st.in_flight});
      run_handovers(st);
    },
    [=](revoke_sessions& msg) { revoke(self->state, msg); },
    [=](apply_atom) { apply_settled(self->state); },
    [=](sweep_atom) {
      sweep(self->state);
      self->delayed_send(self, self->state.sweep_interval, sweep_atom_v);
    },
  };
}

}  // namespace

session_shard spawn_session_shard(caf::actor_system& sys, session_shard_deps deps) {
  return caf::actor_cast<session_shard>(sys.spawn(shard_behavior, std::move(deps)));
}

size_t shard_index(const net::session_key& key, size_t shard_count) {
  uint64_t h;
  std::memcpy(&h, key.data() + 8, sizeof h);  // bytes 0-7 feed the table's hash
  return static_cast<size_t>(h % shard_count);
}

}  // namespace castellan::actors
