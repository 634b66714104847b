// What cluster members ask of each other once admitted: requests forwarded
// to their owner and the owner's replies, session changes for the other
// holders and their acknowledgements, and rate-limit checks on the key's
// owner. Every outgoing request is remembered with a deadline; the tick in
// cluster_node.cpp expires what is not answered in time, and the client
// hears `unavailable` (never silence).
#include <cstring>
#include <limits>
#include <optional>
#include <mutex>

#include <caf/send.hpp>
#include <prometheus/counter.h>

#include "actors/cluster/cluster_backend.hpp"
#include "actors/cluster/cluster_state.hpp"
#include "net/frame_codec.hpp"
#include "net/messages.hpp"
#include "net/owed_replies.hpp"
#include "net/wall_clock.hpp"

namespace castellan::actors::cluster_detail {

namespace {

// The member a request goes to, counted as forwarded; null (and counted as
// lost) when it cannot be reached now, and then whatever the request holds
// (owed replies, a join) answers `unavailable` as it is dropped.
member_link* reachable(cluster_state& st, const std::string& member) {
  count(st, &actors::cluster_metrics::forwarded);
  auto it = st.links.find(member);
  if (it == st.links.end() || !st.members.connected(member)) {
    count(st, &actors::cluster_metrics::forward_lost);
    return nullptr;
  }
  return &it->second;
}

// Removes and returns the pending entry of `batch` if `member` owes it (a
// late or foreign answer finds nothing: its client already heard).
template <class Pending>
std::optional<Pending> take(std::map<uint64_t, Pending>& pending, uint64_t batch,
                            const std::string& member) {
  auto it = pending.find(batch);
  if (it == pending.end() || it->second.member != member)
    return std::nullopt;
  auto entry = std::move(it->second);
  pending.erase(it);
  return entry;
}

steady::time_point deadline_of(const cluster_state& st) {
  return steady::now() + milliseconds(st.cfg.request_timeout_ms);
}

// The same deadline on the wall clock, for the receiver (net::late).
int64_t wall_deadline_of(const cluster_state& st) {
  return net::wall_ms() + static_cast<int64_t>(st.cfg.request_timeout_ms);
}

// A request its asker has given up on: dropped unanswered and counted.
bool drop_if_late(cluster_state& st, int64_t deadline_ms) {
  if (!net::late(deadline_ms, net::wall_ms()))
    return false;
  count(st, &actors::cluster_metrics::late_requests);
  return true;
}

}  // namespace

// The owner's replies to one forwarded batch go back in one message once
// every connection's share of it is in (fan_in.hpp). A share is answered
// through its owed replies, which answer `unavailable` for whatever their
// holders drop, so it always completes; a share lost all the same is left out
// of the message, and the asking member answers its ops `unavailable`.
using forwarded_join = fan_in<net::reply_part, net::peer_replies>;
constexpr uint32_t lost_share = std::numeric_limits<uint32_t>::max();

forwarded_join make_forwarded_join(caf::actor node, std::string member, uint64_t batch) {
  net::peer_replies start;
  start.batch = batch;
  net::reply_part lost;
  lost.sink = lost_share;
  return forwarded_join(
      {std::move(start), std::move(lost),
       [](net::peer_replies& all, net::reply_part&& share) {
         if (share.sink != lost_share)
           all.parts.push_back(std::move(share));
       }},
      [node = std::move(node), member = std::move(member)](net::peer_replies all) {
        caf::anon_send(node, peer_send{member, std::string(net::peer_replies::type),
                                       net::pack_peer(all)});
      });
}

// One connection's share: the reply_sink its owed replies use. Its replies
// come in pieces (reads at once, writes once durable, from several threads);
// the share arrives when the last of its `ops` is answered.
class forwarded_share final : public net::reply_sink {
 public:
  forwarded_share(forwarded_join::part part, uint32_t sink, size_t ops)
      : part_(std::move(part)), remaining_(ops) {
    reply_.sink = sink;
  }
  void deliver(std::string&& frames, size_t count) override {
    add(frames, std::string(count, '\0'), count);
  }
  void deliver_replies(net::reply_buffer&& out) override {
    auto& results = out.results();
    add(out.bytes(), std::string(results.begin(), results.end()), out.count());
  }

 private:
  void add(const std::string& frames, std::string results, size_t count) {
    std::unique_lock<std::mutex> guard(mutex_);
    reply_.frames += frames;
    reply_.results += results;
    remaining_ -= std::min(remaining_, count);
    if (remaining_ > 0)
      return;
    auto complete = std::move(reply_);
    guard.unlock();
    part_(std::move(complete));
  }

  std::mutex mutex_;
  forwarded_join::part part_;
  size_t remaining_;
  net::reply_part reply_;
};

void on_ops(self_ptr self, const std::string& member, const std::string& body) {
  auto ops = net::unpack_peer<net::peer_ops>(body);
  if (ops.ops.empty() || drop_if_late(self->state, ops.deadline_ms))
    return;
  // Sinks index the asking member's connections of one event-loop turn:
  // bounded by its connection cap, never by what a message claims.
  constexpr uint32_t max_sinks = 1 << 20;
  uint32_t sinks = 0;
  for (auto& op : ops.ops)
    if (op.sink < max_sinks)
      sinks = std::max(sinks, op.sink + 1);
  net::op_batch batch;
  std::vector<std::vector<net::owed_request>> owed(sinks);
  std::vector<std::vector<uint64_t>> malformed(sinks), lapsed(sinks), incomplete(sinks);
  auto& st = self->state;
  auto now = steady::now();
  // The asker took this member for the owner; so may it be no longer, if a
  // majority has not heard it lately (its lease, membership.hpp).
  auto me = st.members.self_state();
  bool lease_holds = (me == net::member_state::up || me == net::member_state::leaving) &&
                     now < st.members.lease_until(now);
  for (auto& op : ops.ops) {
    if (op.sink >= sinks)
      continue;
    net::session_op local;
    local.request_id = op.id;
    local.kind = static_cast<net::op_kind>(op.kind);
    local.sink = op.sink;
    owed[op.sink].push_back({op.id, local.kind});
    if (op.key.size() != std::tuple_size_v<net::session_key>) {
      malformed[op.sink].push_back(op.id);
      continue;
    }
    if (!lease_holds && needs_lease(local.kind)) {
      lapsed[op.sink].push_back(op.id);
      count(st, &actors::cluster_metrics::lease_refusals);
      continue;
    }
    // A logout needs no lease, but without it this member may lack a
    // session opened elsewhere: it may end one it holds, never deny one.
    local.confirm_only = !lease_holds;
    std::memcpy(local.key.data(), op.key.data(), local.key.size());
    // Only a complete copy may say "no such session" (a member leaving
    // heard every change to what it held, and hands it over now).
    if (me != net::member_state::leaving && !(st.view && st.view->complete(ring_hash(local.key)))) {
      incomplete[op.sink].push_back(op.id);
      count(st, &actors::cluster_metrics::incomplete_refusals);
      continue;
    }
    batch.ops.push_back(local);
  }
  auto join = make_forwarded_join(caf::actor_cast<caf::actor>(self), member, ops.batch);
  for (uint32_t i = 0; i < sinks; ++i) {
    size_t n = owed[i].size();
    auto share = std::make_shared<forwarded_share>(n ? join.add() : forwarded_join::part{}, i, n);
    batch.owed.push_back(std::make_shared<net::owed_replies>(std::move(share), std::move(owed[i])));
    batch.owed.back()->refuse(malformed[i], "malformed forwarded op");
    batch.owed.back()->refuse(lapsed[i], lapsed_lease_refusal);
    batch.owed.back()->refuse(incomplete[i], incomplete_copy_refusal);
  }
  join.seal();
  self->state.host.serve_ops(std::move(batch));
}

void on_open(self_ptr self, const std::string& member, const std::string& body) {
  auto open = net::unpack_peer<net::peer_open>(body);
  if (drop_if_late(self->state, open.deadline_ms))
    return;
  auto join = make_forwarded_join(caf::actor_cast<caf::actor>(self), member, open.batch);
  auto owed = std::make_shared<net::owed_replies>(
      std::make_shared<forwarded_share>(join.add(), 0, 1),
      std::vector<net::owed_request>{{open.request_id, net::op_kind::login}});
  join.seal();
  if (open.key.size() != std::tuple_size_v<net::session_key>) {
    owed->refuse({open.request_id}, "malformed forwarded login");
    return;
  }
  self->state.host.open_session(open, std::move(owed));
}

// The owner's login_reply carries no token (it never saw it): put it back.
net::reply_buffer with_token(const net::reply_part& part, const std::string& token) {
  net::reply_buffer out;
  try {
    auto scan = net::scan_frame(part.frames, uint32_t(1) << 24);
    auto reply = net::parse_reply(scan.body);
    if (reply.ok) {
      auto login = reply.as<net::login_reply>();
      login.token = token;
      out.add(login);
      return out;
    }
  } catch (const std::exception&) {
  }
  out.append_encoded(part.frames, part.results);
  return out;
}

void on_replies(self_ptr self, const std::string& member, const std::string& body) {
  auto replies = net::unpack_peer<net::peer_replies>(body);
  auto found = take(self->state.forwards, replies.batch, member);
  if (!found)
    return;  // timed out already: the client heard `unavailable`
  auto& pending = *found;
  for (auto& part : replies.parts) {
    if (part.sink >= pending.owed.size())
      continue;
    if (pending.is_open) {
      pending.owed[part.sink]->deliver(with_token(part, pending.token), pending.ids[part.sink]);
      continue;
    }
    net::reply_buffer out;
    out.append_encoded(part.frames, part.results);
    pending.owed[part.sink]->deliver(std::move(out), pending.ids[part.sink]);
  }
}

void on_replicate(self_ptr self, const std::string& member, const std::string& body) {
  auto rep = net::unpack_peer<net::peer_replicate>(body);
  if (rep.batch == 0)
    count(self->state, &actors::cluster_metrics::handover_received,
          static_cast<double>(rep.events.size()));
  auto me = caf::actor_cast<caf::actor>(self);
  uint64_t batch = rep.batch;
  // A write placed under other holders than this member sees: its owner or
  // this member has not yet heard a change. Applied, it could sit here
  // unseen by a holder the views settle on, so it is refused (the owner
  // undoes it, its client hears `unavailable`, and a retry goes by the
  // settled view).
  if (batch != 0 && rep.holders != self->state.members.holders_fingerprint()) {
    count(self->state, &actors::cluster_metrics::view_refusals);
    send_to(self, member, net::peer_ack{batch, false});
    return;
  }
  if (batch == 0)
    ++self->state.applying[member];
  self->state.host.apply(std::move(rep.events), [me, member, batch](bool ok) {
    if (batch)
      caf::anon_send(me, peer_send{member, std::string(net::peer_ack::type),
                                   net::pack_peer(net::peer_ack{batch, ok})});
    else
      caf::anon_send(me, handed_atom_v, member);
  });
}

// A member's handover_done counts once everything it handed over before it
// is applied here (messages from one member arrive in order).
void on_handover_done(self_ptr self, const std::string& member, const std::string& body) {
  auto& st = self->state;
  auto done = net::unpack_peer<net::peer_handover_done>(body);
  if (auto it = st.applying.find(member); it != st.applying.end() && it->second > 0)
    st.handed_waiting.insert(member);
  else
    st.members.handed_over(member);
  if (done.holders)
    note_report(self, member, done.holders);
}

void note_report(self_ptr self, const std::string& member, uint64_t fingerprint) {
  auto& st = self->state;
  if (auto it = st.applying.find(member); it != st.applying.end() && it->second > 0) {
    st.reports_waiting[member] = fingerprint;
    return;
  }
  st.members.reported_handed(member, fingerprint);
  if (st.members.settle())
    publish_view(self);
}

void on_handover_applied(self_ptr self, const std::string& member) {
  auto& st = self->state;
  auto it = st.applying.find(member);
  if (it == st.applying.end() || it->second == 0)
    return;
  if (--it->second > 0)
    return;
  st.applying.erase(it);
  if (st.handed_waiting.erase(member))
    st.members.handed_over(member);
  if (auto r = st.reports_waiting.find(member); r != st.reports_waiting.end()) {
    uint64_t fingerprint = r->second;
    st.reports_waiting.erase(r);
    note_report(self, member, fingerprint);
  }
}

void on_ack(self_ptr self, const std::string& member, const std::string& body) {
  auto ack = net::unpack_peer<net::peer_ack>(body);
  auto& st = self->state;
  if (st.on_left && ack.batch == 0) {  // a peer heard our leave
    if (st.leave_acks > 0 && --st.leave_acks == 0) {
      auto f = std::move(st.on_left);
      st.on_left = nullptr;
      f();
    }
    return;
  }
  if (auto pending = take(st.acks, ack.batch, member))
    pending->part(ack.ok);
}

std::vector<limit_key> keys_of(const std::vector<net::peer_limit_key>& keys) {
  std::vector<limit_key> out;
  for (auto& k : keys)
    if (k.kind < key_kind_count)
      out.push_back({static_cast<key_kind>(k.kind), k.value});
  return out;
}

std::vector<net::peer_limit_key> peer_keys_of(const std::vector<limit_key>& keys) {
  std::vector<net::peer_limit_key> out;
  for (auto& k : keys)
    out.push_back({static_cast<uint8_t>(k.kind), k.value});
  return out;
}

void on_limit_check(self_ptr self, const std::string& member, const std::string& body) {
  auto check = net::unpack_peer<net::peer_limit_check>(body);
  auto me = caf::actor_cast<caf::actor>(self);
  uint64_t batch = check.batch;
  self->state.host.check_limits(keys_of(check.keys), [me, member, batch](const decision& d,
                                                                        key_kind by) {
    net::peer_limit_decision out{batch, d.allowed, d.locked, d.failed, d.retry_after_ms,
                                 static_cast<uint8_t>(by), d.full};
    caf::anon_send(me, peer_send{member, std::string(net::peer_limit_decision::type),
                                 net::pack_peer(out)});
  });
}

void on_limit_decision(self_ptr self, const std::string& member, const std::string& body) {
  auto d = net::unpack_peer<net::peer_limit_decision>(body);
  auto pending = take(self->state.limits, d.batch, member);
  if (!pending)
    return;
  limit_answer out;
  out.d.allowed = d.allowed;
  out.d.locked = d.locked;
  out.d.failed = d.failed;
  out.d.full = d.full;
  out.d.retry_after_ms = d.retry_after_ms;
  out.refused_by = d.refused_by < key_kind_count ? static_cast<key_kind>(d.refused_by) : key_kind::user;
  pending->part(std::move(out));
}

void on_limit_outcome(self_ptr self, const std::string& body) {
  auto o = net::unpack_peer<net::peer_limit_outcome>(body);
  self->state.host.teach_limits(limit_outcome{keys_of(o.keys), o.success, o.user, o.ip});
}

void forward(self_ptr self, forward_ops& msg) {
  auto& st = self->state;
  auto* to = reachable(st, msg.member);
  if (!to)
    return;
  uint64_t batch = st.next_batch++;
  pending_forward pending;
  pending.member = msg.member;
  pending.deadline = deadline_of(st);
  pending.owed = std::move(msg.batch.owed);
  pending.ids.resize(pending.owed.size());
  net::peer_ops out{batch, {}, wall_deadline_of(st)};
  out.ops.reserve(msg.batch.ops.size());
  for (auto& op : msg.batch.ops) {
    out.ops.push_back({op.request_id, static_cast<uint8_t>(op.kind), op.sink,
                       std::string(reinterpret_cast<const char*>(op.key.data()), op.key.size())});
    pending.ids[op.sink].push_back(op.request_id);
  }
  st.forwards.emplace(batch, std::move(pending));
  send_to(self, *to, net::peer_ops::type, net::pack_peer(out));
}

void forward_login(self_ptr self, forward_open& msg) {
  auto& st = self->state;
  auto* to = reachable(st, msg.member);
  if (!to)
    return;
  uint64_t batch = st.next_batch++;
  msg.open.batch = batch;
  msg.open.deadline_ms = wall_deadline_of(st);
  pending_forward pending;
  pending.member = msg.member;
  pending.deadline = deadline_of(st);
  pending.owed = {std::move(msg.owed)};
  pending.ids = {{msg.open.request_id}};
  pending.is_open = true;
  pending.token = std::move(msg.token);
  st.forwards.emplace(batch, std::move(pending));
  send_to(self, *to, net::peer_open::type, net::pack_peer(msg.open));
}

void replicate(self_ptr self, replicate_out& msg) {
  auto& st = self->state;
  auto* metrics = st.metrics;
  auto join = all_ok([metrics, done = std::move(msg.done)](bool ok) {
    if (metrics)
      (ok ? metrics->replicated : metrics->replication_failed)->Increment();
    done(ok);
  });
  auto deadline = deadline_of(st);
  for (auto& [member, events] : msg.parts) {
    auto part = join.add();  // dropped here if the member cannot be reached: failed
    auto it = st.links.find(member);
    if (it == st.links.end() || !st.members.connected(member))
      continue;
    uint64_t batch = st.next_batch++;
    st.acks.emplace(batch, pending_ack{member, deadline, std::move(part)});
    send_to(self, it->second, net::peer_replicate::type,
            net::pack_peer(net::peer_replicate{batch, std::move(events), msg.holders}));
  }
  join.seal();
}

void check_limits_remotely(self_ptr self, limit_out& msg) {
  auto& st = self->state;
  auto* to = reachable(st, msg.member);
  if (!to)
    return;  // the part is dropped unanswered: the login hears `unavailable`
  uint64_t batch = st.next_batch++;
  st.limits.emplace(batch, pending_limit{msg.member, deadline_of(st), std::move(msg.part)});
  send_to(self, *to, net::peer_limit_check::type,
          net::pack_peer(net::peer_limit_check{batch, peer_keys_of(msg.keys)}));
}

void teach_limits_remotely(self_ptr self, teach_out& msg) {
  auto& o = msg.outcome;
  send_to(self, msg.member, net::peer_limit_outcome{peer_keys_of(o.keys), o.success, o.user, o.ip});
}

void revoke_remotely(self_ptr self, revoke_out& msg) {
  auto& st = self->state;
  auto* to = reachable(st, msg.member);
  if (!to)
    return;  // `done` is dropped: revoke_user hears of a failure
  uint64_t batch = st.next_batch++;
  st.revokes.emplace(batch, pending_revoke{msg.member, deadline_of(st), std::move(msg.done)});
  send_to(self, *to, net::peer_revoke::type,
          net::pack_peer(net::peer_revoke{batch, msg.user, msg.rest, wall_deadline_of(st)}));
}

void on_revoke(self_ptr self, const std::string& member, const std::string& body) {
  auto revoke = net::unpack_peer<net::peer_revoke>(body);
  if (drop_if_late(self->state, revoke.deadline_ms))
    return;  // its asker answered `unavailable`: it must end nothing now
  auto me = caf::actor_cast<caf::actor>(self);
  uint64_t batch = revoke.batch;
  self->state.host.revoke(revoke.user, revoke.rest, [me, member, batch](uint64_t n, bool ok) {
    caf::anon_send(me, peer_send{member, std::string(net::peer_revoke_done::type),
                                 net::pack_peer(net::peer_revoke_done{batch, ok, n})});
  });
}

void on_revoke_done(self_ptr self, const std::string& member, const std::string& body) {
  auto done = net::unpack_peer<net::peer_revoke_done>(body);
  if (auto pending = take(self->state.revokes, done.batch, member))
    pending->done(done.revoked, done.ok);
}

}  // namespace castellan::actors::cluster_detail
