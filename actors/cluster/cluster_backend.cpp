// Routing by ownership; see cluster_backend.hpp.
#include "actors/cluster/cluster_backend.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>

#include <caf/actor.hpp>
#include <caf/send.hpp>
#include <prometheus/counter.h>
#include <sodium.h>

#include "actors/sessions/revoke_user.hpp"
#include "net/messages.hpp"
#include "net/owed_replies.hpp"
#include "net/wall_clock.hpp"

namespace castellan::actors {

cluster_backend::cluster_backend(session_router& router, std::vector<slot_ptr<session_shard>> shards,
                                 std::vector<slot_ptr<limiter_shard>> limiters, std::string self,
                                 uint32_t replicas, prometheus::Counter* minority_refusals,
                                 prometheus::Counter* lease_refusals,
                                 prometheus::Counter* incomplete_refusals)
    : router_(router), shards_(std::move(shards)), limiters_(std::move(limiters)),
      self_(std::move(self)), replicas_(replicas), minority_refusals_(minority_refusals),
      lease_refusals_(lease_refusals), incomplete_refusals_(incomplete_refusals) {
  router_.set_open_placement([this](open_session& msg) { return place_open(msg); });
}

cluster_backend::~cluster_backend() = default;

void cluster_backend::attach(caf::actor node) { node_ = std::make_unique<caf::actor>(std::move(node)); }

cluster_host cluster_backend::host(std::function<net::member_load()> load) {
  cluster_host h;
  h.serve_ops = [this](net::op_batch&& batch) { router_.submit_session_ops(std::move(batch)); };
  h.open_session = [this](const net::peer_open& open, net::owed_ptr owed) {
    open_for_peer(open, std::move(owed));
  };
  h.apply = [this](std::vector<net::auth_event> events, std::function<void(bool)> done) {
    apply(std::move(events), std::move(done));
  };
  h.rebalance = [this](auto before, auto after, auto owners, auto send, auto done) {
    rebalance(std::move(before), std::move(after), std::move(owners), std::move(send),
              std::move(done));
  };
  h.check_limits = [this](std::vector<limit_key> keys,
                          std::function<void(const decision&, key_kind)> done) {
    std::vector<std::vector<limit_key>> by_shard(limiters_.size());
    for (auto& k : keys)
      by_shard[limiter_index(k, limiters_.size())].push_back(std::move(k));
    auto join = make_limit_join(std::move(done));  // no keys: allowed at once
    for (size_t i = 0; i < by_shard.size(); ++i)
      if (!by_shard[i].empty())
        caf::anon_send(limiters_[i]->get(), limit_check{std::move(by_shard[i]), join.add()});
    join.seal();
  };
  h.teach_limits = [this](limit_outcome outcome) {
    std::vector<std::vector<limit_key>> by_shard(limiters_.size());
    for (auto& k : outcome.keys)
      by_shard[limiter_index(k, limiters_.size())].push_back(std::move(k));
    for (size_t i = 0; i < by_shard.size(); ++i)
      if (!by_shard[i].empty())
        caf::anon_send(limiters_[i]->get(),
                       limit_outcome{std::move(by_shard[i]), outcome.success, outcome.user, outcome.ip});
  };
  h.revoke = [this](const std::string& user, bool rest, std::function<void(uint64_t, bool)> done) {
    revoke_held_here(user, rest, std::move(done));
  };
  h.load = std::move(load);
  h.publish = [this](cluster_view_ptr v) { view_.store(std::move(v)); };
  return h;
}

// -- routing -------------------------------------------------------------------

namespace {

constexpr const char* minority_refusal =
    "this member cannot reach a majority of the cluster; logins and refreshes are refused "
    "here until it can (validate and logout still work)";

constexpr const char* unowned_refusal =
    "this member is joining the cluster and no member owns sessions yet; retry shortly";

}  // namespace

const char* const lapsed_lease_refusal =
    "this member has not been heard by a majority of the cluster recently, so another member "
    "may own this session now; retry on another member";

const char* const incomplete_copy_refusal =
    "this member does not hold the complete copy of this session's range (a hand-over to it "
    "is under way, or every member that held it is down), so it cannot say the session does "
    "not exist; retry shortly";

op_route route_session_op(const cluster_view& view, net::op_kind kind, bool local_read,
                          uint64_t key_hash, std::chrono::steady_clock::time_point now) {
  if (!view.owned())  // a stale copy here must not answer for anyone
    return op_route::refuse_unowned;
  if (!view.majority() && kind == net::op_kind::refresh)
    return op_route::refuse_minority;
  // A local read takes a complete copy here; a copy still being handed
  // over (or one nobody could hand over) would call live sessions invalid.
  if (local_read && view.serving() && view.complete(key_hash))
    return view.lease_holds(now) ? op_route::here : op_route::here_confirm_only;
  if (!view.owns(key_hash))
    return op_route::owner;
  if (!view.lease_holds(now)) {
    if (needs_lease(kind))
      return op_route::refuse_lapsed;
    // A logout is never unsafe, but this member may lack a session opened
    // elsewhere meanwhile: it may end one it holds, never deny one.
    return view.complete(key_hash) ? op_route::here_confirm_only : op_route::refuse_incomplete;
  }
  return view.complete(key_hash) ? op_route::here : op_route::refuse_incomplete;
}

open_route route_open(const cluster_view& view, uint64_t key_hash) {
  if (view.owns(key_hash))
    return open_route::here;
  if (!view.owned())  // every owner went away during the password check
    return open_route::refuse_unowned;
  return open_route::owner;
}

std::string remote_owner(const cluster_view& view, uint64_t key_hash) {
  if (!view.owned() || view.owns(key_hash))
    return {};
  return view.owner_of(key_hash);
}

void cluster_backend::submit_session_ops(net::op_batch&& batch) {
  auto view = view_.load();
  if (!view || !node_) {
    // The front door can read requests before the cluster actor published
    // its first view: this member's copy (recovered from its own log) may
    // lack what others acknowledged meanwhile, so it answers nobody yet.
    for (auto& op : batch.ops)
      batch.owed[op.sink]->refuse({op.request_id}, unowned_refusal);
    return;
  }
  net::op_batch local;
  std::map<std::string, net::op_batch> remote;
  auto now = std::chrono::steady_clock::now();
  for (auto& op : batch.ops) {
    uint64_t h = actors::ring_hash(op.key);
    switch (route_session_op(*view, op.kind, op.local_read, h, now)) {
      case op_route::refuse_unowned:
        batch.owed[op.sink]->refuse({op.request_id}, unowned_refusal);
        break;
      case op_route::refuse_minority:
        if (minority_refusals_)
          minority_refusals_->Increment();
        batch.owed[op.sink]->refuse({op.request_id}, minority_refusal);
        break;
      case op_route::refuse_lapsed:
        if (lease_refusals_)
          lease_refusals_->Increment();
        batch.owed[op.sink]->refuse({op.request_id}, lapsed_lease_refusal);
        break;
      case op_route::refuse_incomplete:
        if (incomplete_refusals_)
          incomplete_refusals_->Increment();
        batch.owed[op.sink]->refuse({op.request_id}, incomplete_copy_refusal);
        break;
      case op_route::here:
        local.ops.push_back(op);
        break;
      case op_route::here_confirm_only:
        local.ops.push_back(op);
        local.ops.back().confirm_only = true;
        break;
      case op_route::owner:
        remote[view->owner_of(h)].ops.push_back(op);
        break;
    }
  }
  for (auto& [member, part] : remote) {
    part.owed = batch.owed;  // sinks index the full list, as in the router
    caf::anon_send(*node_, forward_ops{member, std::move(part)});
  }
  if (!local.ops.empty()) {
    local.owed = std::move(batch.owed);
    router_.submit_session_ops(std::move(local));
  }
}

// The password is checked where the client asked (argon2 spreads over the
// cluster); the session opens on its owner (place_open).
void cluster_backend::submit_login(net::login_job&& job, net::owed_ptr owed) {
  if (auto view = view_.load(); !view || !node_ || !view->owned()) {
    sodium_memzero(job.password.data(), job.password.size());
    owed->refuse({job.request_id}, unowned_refusal);
    return;
  }
  if (auto view = view_.load(); view && !view->majority()) {
    sodium_memzero(job.password.data(), job.password.size());
    if (minority_refusals_)
      minority_refusals_->Increment();
    owed->refuse({job.request_id}, minority_refusal);
    return;
  }
  router_.submit_login(std::move(job), std::move(owed));
}

bool cluster_backend::place_open(open_session& msg) {
  auto view = view_.load();
  uint64_t h = actors::ring_hash(msg.key);
  if (!view || !node_) {  // no view yet (submit_session_ops): never a session with one copy
    msg.owed->refuse({msg.request_id}, unowned_refusal);
    return true;
  }
  switch (route_open(*view, h)) {
    case open_route::here:
      return false;
    case open_route::refuse_unowned:
      msg.owed->refuse({msg.request_id}, unowned_refusal);
      return true;
    case open_route::owner:
      break;
  }
  net::peer_open open;
  open.request_id = msg.request_id;
  open.key.assign(reinterpret_cast<const char*>(msg.key.data()), msg.key.size());
  open.user = msg.user->name;
  open.ip = msg.ip;
  caf::anon_send(*node_, forward_open{view->owner_of(h), std::move(open), std::move(msg.token),
                                      std::move(msg.owed)});
  return true;
}

void cluster_backend::open_for_peer(const net::peer_open& open, net::owed_ptr owed) {
  auto users = router_.users();
  const auto* record = users->find(open.user);
  if (!record) {
    net::reply_buffer out;
    out.add_error(open.request_id, net::error_code::unavailable,
                  "the session's owner does not know this user (users files differ)");
    owed->deliver(std::move(out), {open.request_id});
    return;
  }
  open_session msg;
  msg.request_id = open.request_id;
  std::memcpy(msg.key.data(), open.key.data(), msg.key.size());
  msg.user = user_ref(users, record);
  msg.ip = open.ip;
  msg.owed = std::move(owed);
  router_.open_here(std::move(msg));
}

// Admin ops act on this node (their target is this process).
void cluster_backend::debug_crash(const net::session_key& key, std::string target,
                                  net::owed_ptr owed) {
  router_.debug_crash(key, std::move(target), std::move(owed));
}

void cluster_backend::debug_populate(const net::session_key& key, uint64_t count,
                                     net::owed_ptr owed) {
  router_.debug_populate(key, count, std::move(owed));
}

void cluster_backend::revoke_user(const net::session_key& caller, std::string user,
                                  net::owed_ptr owed) {
  run_revoke_user(*this, router_.events(), caller, std::move(user), std::move(owed),
                  [this](const std::string& u, std::function<void(uint64_t, bool)> done) {
                    revoke_everywhere(u, std::move(done));
                  });
}

// One round of revoke_user here: the sessions this member owns (counted),
// or, in the second round, every other copy it still holds (uncounted).
void cluster_backend::revoke_held_here(const std::string& user, bool rest,
                                       std::function<void(uint64_t, bool)> done) {
  auto view = view_.load();
  if (!view) {
    router_.revoke_here(user, {}, std::move(done));
    return;
  }
  auto owned = [view](const net::session_key& key) { return view->owns(actors::ring_hash(key)); };
  if (!rest) {
    router_.revoke_here(user, owned, std::move(done));
    return;
  }
  router_.revoke_here(
      user, [owned](const net::session_key& key) { return !owned(key); },
      [done = std::move(done)](uint64_t, bool ok) { done(0, ok); });
}

// One round over every member holding data (joiners too: they may hold
// copies already).
void cluster_backend::revoke_round(const cluster_view& view, const std::string& user, bool rest,
                                   std::function<void(uint64_t, bool)> done) {
  auto join = make_revoke_join(std::move(done));
  for (auto& member : view.holders->members()) {
    if (member == self_)
      revoke_held_here(user, rest, revoke_part(join));
    else
      caf::anon_send(*node_, revoke_out{member, user, rest, revoke_part(join)});
  }
  join.seal();
}

// Two rounds. First every owner ends (and counts) what it owns, each end
// replicated to the other holders. Then every member ends any copy it
// still holds: while ownership moves, two members can each take the other
// for a key's owner, and a copy nobody ended would come back through a
// hand-over. The second round starts only once the first is durable
// everywhere, so an end it replicates cannot reach an owner before that
// owner counted the session.
void cluster_backend::revoke_everywhere(const std::string& user,
                                        std::function<void(uint64_t, bool)> done) {
  auto view = view_.load();
  if (!view || !node_) {  // not part of the cluster yet: it cannot reach every copy
    done(0, false);
    return;
  }
  // Every copy must end: not from a minority (the other side keeps its
  // copies valid until the heal), nor while some keys' holders are all down
  // (their copies would come back alive). Nothing ends, and `unavailable`
  // means just that.
  if (!view->owned() || !view->majority() || view->keys_lost()) {
    done(0, false);
    return;
  }
  revoke_round(*view, user, false, [this, user, done](uint64_t counted, bool ok) {
    if (!ok) {
      done(counted, false);
      return;
    }
    auto now = view_.load();
    revoke_round(*now, user, true, [done, counted](uint64_t, bool rest_ok) { done(counted, rest_ok); });
  });
}

void cluster_backend::cluster_status(uint64_t id, net::reply_buffer& out) const {
  auto view = view_.load();
  if (!view) {
    router_.cluster_status(id, out);
    return;
  }
  net::cluster_status_reply reply;
  reply.id = id;
  reply.node = self_;
  reply.clustered = true;
  reply.replicas = replicas_;
  for (auto& m : view->members)
    reply.members.push_back({m.info.name, m.info.address, m.info.client,
                             std::string(net::to_string(m.info.state)), m.self,
                             m.self ? net::wall_ms() : m.heard_ms, m.load.ready,
                             m.load.requests_per_s, m.load.sessions, m.load.restarts});
  out.add(reply);
}

// -- replication ---------------------------------------------------------------

std::optional<uint64_t> replication_hash(const net::auth_event& e) {
  if (replicated_kind(e)) {
    auto key = net::session_key_from_digest(e.session);
    if (!key)
      return std::nullopt;
    return actors::ring_hash(*key);
  }
  if (auto limit = lockout_key(e))
    return limiter_ring_hash(*limit);  // lockouts live with their key's bucket
  return std::nullopt;
}

std::vector<const std::string*> replica_targets(const cluster_view& view, uint64_t key_hash) {
  std::vector<const std::string*> targets;
  for (auto* ring : {view.holders.get(), view.owners.get()})
    if (ring)
      for (auto i : ring->place(key_hash)) {
        auto* member = &ring->members()[i];
        if (*member != view.self && std::none_of(targets.begin(), targets.end(),
                                                 [&](auto* t) { return *t == *member; }))
          targets.push_back(member);
      }
  return targets;
}

bool cluster_backend::replicate(const std::vector<net::auth_event>& events,
                                std::function<void(bool)> done) {
  auto view = view_.load();
  if (!view || !node_) {
    // Not part of the cluster yet: a session change cannot reach its other
    // holder, so it is not durable (events about no session need nobody).
    if (std::none_of(events.begin(), events.end(),
                     [](const net::auth_event& e) { return replication_hash(e).has_value(); }))
      return false;
    done(false);
    return true;
  }
  std::map<std::string, std::vector<net::auth_event>> parts;
  for (auto& e : events)
    if (auto h = replication_hash(e))
      for (auto* member : replica_targets(*view, *h))
        parts[*member].push_back(e);
  if (parts.empty())
    return false;
  replicate_out out;
  for (auto& [member, part] : parts)
    out.parts.emplace_back(member, std::move(part));
  out.holders = view->holders_fingerprint;
  out.done = std::move(done);
  caf::anon_send(*node_, std::move(out));
  return true;
}

// -- rate limiting: one bucket per key in the cluster ---------------------------

// Limiter keys go by the owners ring, like sessions: the owner's bucket is the
// only one. A key whose owner dies starts afresh on the next (docs/cluster.md).
std::string cluster_backend::limiter_owner(const limit_key& key) const {
  auto view = view_.load();
  if (!view || !node_)
    return {};
  // No owner anywhere also gives "": logins are refused before they ask.
  return remote_owner(*view, limiter_ring_hash(key));
}

void cluster_backend::check_remote(const std::string& member, std::vector<limit_key> keys,
                                   limit_part part) {
  caf::anon_send(*node_, limit_out{member, std::move(keys), std::move(part)});
}

void cluster_backend::teach_remote(const std::string& member, limit_outcome outcome) {
  caf::anon_send(*node_, teach_out{member, std::move(outcome)});
}

void cluster_backend::apply(std::vector<net::auth_event> events, std::function<void(bool)> done) {
  std::vector<std::vector<net::auth_event>> by_shard(shards_.size());
  std::vector<std::vector<net::auth_event>> by_limiter(limiters_.size());
  for (auto& e : events) {
    if (auto limit = lockout_key(e))
      by_limiter[limiter_index(*limit, limiters_.size())].push_back(std::move(e));
    else if (auto key = net::session_key_from_digest(e.session))
      by_shard[shard_index(*key, shards_.size())].push_back(std::move(e));
  }
  // Durable only if every shard made its share durable; a share lost with
  // its shard is a failure (the sender then fails the write, fan_in.hpp).
  auto join = all_ok(std::move(done));
  for (size_t i = 0; i < by_shard.size(); ++i)
    if (!by_shard[i].empty())
      caf::anon_send(shards_[i]->get(), replica_apply{std::move(by_shard[i]), join.add()});
  for (size_t i = 0; i < by_limiter.size(); ++i)
    if (!by_limiter[i].empty())
      caf::anon_send(limiters_[i]->get(), lockout_apply{std::move(by_limiter[i]), join.add()});
  join.seal();
}

void cluster_backend::rebalance(std::shared_ptr<const actors::ring> before,
                                std::shared_ptr<const actors::ring> after,
                                std::shared_ptr<const actors::ring> owners, cluster_host::send_fn send,
                                std::function<void(bool)> done) {
  // Sessions and lockouts alike; limiter buckets start afresh on a new owner.
  // A shard that dies with its share reports false through its part.
  auto join = all_ok(std::move(done));
  for (auto& shard : shards_)
    caf::anon_send(shard->get(), actors::rebalance{before, after, owners, self_, send, join.add()});
  for (auto& limiter : limiters_)
    caf::anon_send(limiter->get(), actors::rebalance{before, after, owners, self_, send, join.add()});
  join.seal();
}

}  // namespace castellan::actors
