// The cluster node actor; see cluster_node.hpp and docs/cluster.md.
//
// Membership is each node's own opinion, formed from two signals: CAF's
// connection monitoring (a peer process that dies closes its socket, and the
// down_msg arrives at once) and heartbeats (a frozen or partitioned peer says
// nothing: silent for suspect_after_ms is suspect, for down_after_ms down).
// Heartbeats gossip the member list, so a node that joined through one seed
// learns, connects to and authenticates with every other member. What those
// signals mean (each member's state, when this one goes up, the rings) is
// decided by the membership object (membership.hpp, no CAF); this actor feeds
// it events and does the I/O.
//
// Nothing from a peer is acted on before it has proved the cluster secret in
// a challenge-response (hello / challenge / proof); the proof binds both
// sides' fresh nonces, so a recorded handshake cannot be replayed.
#include "actors/cluster/cluster_node.hpp"

#include <chrono>
#include <map>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <sodium.h>

#include "actors/runtime/atoms.hpp"
#include "actors/cluster/cluster_state.hpp"
#include "actors/cluster/cluster_metrics.hpp"
#include "config/logging.hpp"
#include "net/frame_codec.hpp"
#include "net/messages.hpp"
#include "net/owed_replies.hpp"
#include "net/utf8.hpp"
#include "net/wall_clock.hpp"

namespace castellan::actors {

std::string handshake_proof(const std::string& secret, std::string_view label,
                            std::string_view first_nonce, std::string_view second_nonce) {
  unsigned char key[crypto_generichash_KEYBYTES];
  crypto_generichash(key, sizeof key, reinterpret_cast<const unsigned char*>(secret.data()),
                     secret.size(), nullptr, 0);
  crypto_generichash_state st;
  crypto_generichash_init(&st, key, sizeof key, 32);
  for (auto part : {label, first_nonce, second_nonce}) {
    uint32_t n = static_cast<uint32_t>(part.size());  // length-prefixed: no ambiguity
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(&n), sizeof n);
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(part.data()), part.size());
  }
  std::string out(32, '\0');
  crypto_generichash_final(&st, reinterpret_cast<unsigned char*>(out.data()), out.size());
  sodium_memzero(key, sizeof key);
  return out;
}

namespace cluster_detail {

using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;
using net::member_state;

std::string random_nonce() {
  std::string n(32, '\0');
  randombytes_buf(n.data(), n.size());
  return n;
}

bool same_proof(const std::string& a, const std::string& b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Unauthenticated peers may send only small handshake messages.
constexpr size_t max_handshake_bytes = 4096;

// Handshakes in flight, nodes refused lately and peer names whose refusal was
// logged: each map holds at most this many (anyone who reaches the cluster
// port can say hello, under any name, from as many processes as it likes).
constexpr size_t max_handshakes = 256;

// A refused node's hellos go unanswered this long, and a peer name's refusal
// is logged at most once in it (a wrong-secret node dials again every
// cluster.reconnect_interval_ms; every refusal is still counted).
constexpr auto refusal_quiet = std::chrono::seconds(10);

// The entry of `m` with the earliest time (`time_of(value)`); m is not empty.
template <class Map, class TimeOf>
typename Map::iterator oldest(Map& m, TimeOf time_of) {
  auto first = m.begin();
  for (auto it = m.begin(); it != m.end(); ++it)
    if (time_of(it->second) < time_of(first->second))
      first = it;
  return first;
}

// A peer failed the handshake, or may no longer try: counted every time
// (castellan_cluster_peers_refused_total), logged at most once per
// refusal_quiet per peer name, with how many went unlogged since.
void refuse(self_ptr self, const std::string& name, const std::string& address,
            std::string_view why) {
  auto& st = self->state;
  count(st, &actors::cluster_metrics::peers_refused);
  auto now = steady::now();
  auto who = net::log_safe(name);
  auto it = st.refusals_logged.find(who);
  if (it != st.refusals_logged.end() && now - it->second.at < refusal_quiet) {
    ++it->second.unlogged;
    return;
  }
  uint64_t unlogged = 0;
  if (it != st.refusals_logged.end()) {
    unlogged = it->second.unlogged;
  } else {
    if (st.refusals_logged.size() >= max_handshakes)
      st.refusals_logged.erase(oldest(st.refusals_logged, [](auto& r) { return r.at; }));
    it = st.refusals_logged.emplace(who, cluster_state::refusal_log{}).first;
  }
  it->second = {now, 0};
  if (unlogged > 0)
    spdlog::error("cluster: refused {} at {}: {} ({} more refusals of it since its last line)", who,
                  net::log_safe(address), why, unlogged);
  else
    spdlog::error("cluster: refused {} at {}: {}", who, net::log_safe(address), why);
}

// `node` failed the handshake: for refusal_quiet its hellos get no challenge,
// so a node without the secret is not handed one proof after another.
void remember_refused(cluster_state& st, const caf::node_id& node, steady::time_point now) {
  if (!st.refused_nodes.count(node) && st.refused_nodes.size() >= max_handshakes)
    st.refused_nodes.erase(oldest(st.refused_nodes, [](auto& at) { return at; }));
  st.refused_nodes[node] = now;
}

// Challenges without a proof after cluster.request_timeout_ms are dropped
// and refused. That key, because the challenge is a request to the peer like
// any other: a node with the secret answers it in one round trip, as a member
// answers a forwarded request, and the operator already tuned it to this
// network. (reconnect_interval_ms is how often a node dials, not how long an
// answer may take; down_after_ms is about members already admitted.)
void expire_handshakes(self_ptr self, steady::time_point now) {
  auto& st = self->state;
  auto bound = milliseconds(st.cfg.request_timeout_ms);
  for (auto it = st.challenged.begin(); it != st.challenged.end();) {
    if (now - it->second.sent < bound) {
      ++it;
      continue;
    }
    refuse(self, it->second.name, it->second.address,
           "it did not prove the cluster secret within " +
               std::to_string(st.cfg.request_timeout_ms) + " ms (a wrong cluster.secret?)");
    remember_refused(st, it->first, now);
    it = st.challenged.erase(it);
  }
  for (auto it = st.refused_nodes.begin(); it != st.refused_nodes.end();)
    it = now - it->second >= refusal_quiet ? st.refused_nodes.erase(it) : std::next(it);
  for (auto it = st.hello_sent.begin(); it != st.hello_sent.end();)
    it = now - it->second.sent >= bound ? st.hello_sent.erase(it) : std::next(it);
}

void count_states(const cluster_state& st, const cluster_view& view) {
  if (!st.metrics)
    return;
  double by_state[net::member_state_count] = {};
  for (auto& m : view.members)
    by_state[net::index_of(m.info.state)] += 1;
  for (auto state : net::all_member_states)
    st.metrics->members_in(state)->Set(by_state[net::index_of(state)]);
}

// -- the view: what the membership decided, for readers on other threads -------

// Every member with this node's opinion of its state, and the current rings.
cluster_view_ptr make_view(const cluster_state& st, steady::time_point now) {
  auto& members = st.members;
  auto view = std::make_shared<cluster_view>();
  view->self = members.name();
  view->members.push_back({members.self(), st.host.load ? st.host.load() : net::member_load{},
                           net::wall_ms(), true});
  for (auto& [name, m] : members.members()) {
    monitor::member_status seen{m.info, m.load, m.heard_ms, false};
    seen.info.state = members.state_of(m, now);
    view->members.push_back(std::move(seen));
  }
  view->reachable = members.reachable_count(now);
  view->known = members.known_count(now);
  view->owners = members.owners();
  view->holders = members.holders();
  view->settled = members.settled();
  view->intact = members.intact();
  view->epoch = members.epoch();
  view->holders_fingerprint = members.holders_fingerprint();
  view->lease_until = members.lease_until(now);
  return view;
}

void log_holders(const cluster_state& st) {
  std::string names;
  for (auto& m : st.members.holders()->members())
    names += (names.empty() ? "" : ", ") + m;
  spdlog::info("cluster: holders now [{}] (epoch {})", names, st.members.epoch());
}

// Asks every shard to send what members now hold that they did not under
// `before`, as run number N; handover_finished{N, ok} says it is over.
void start_handover(self_ptr self, std::shared_ptr<const actors::ring> before) {
  auto& st = self->state;
  uint64_t run = ++st.handover_runs;
  st.handovers.emplace(run, before);
  auto me = caf::actor_cast<caf::actor>(self);
  st.host.rebalance(
      std::move(before), st.members.holders(), st.members.owners(),
      [me](const std::string& member, std::vector<net::auth_event> events) {
        caf::anon_send(me, handover_out{member, std::move(events)});
      },
      [me, run](bool ok) { caf::anon_send(me, handover_finished{run, ok}); });
}

// The holders changed: the shards and limiters hand what moved to the
// members now holding it; the joiners among them hear handover_done once
// no run is in flight or to be redone (handover_complete).
void start_rebalance(self_ptr self, const membership::ring_change& change) {
  auto& st = self->state;
  st.joiners_waiting.insert(change.new_joiners.begin(), change.new_joiners.end());
  log_holders(st);
  start_handover(self, change.before);
}

// Recomputes the rings and publishes the view; starts a rebalance when the
// holders changed. Cheap enough to run on every tick.
void publish_view(self_ptr self) {
  auto& st = self->state;
  auto now = steady::now();
  auto change = st.members.update_rings(now);
  for (auto& name : change.confirmed_down)
    spdlog::warn("cluster: {} is down (a majority finds it down); its ranges move", name);
  st.members.settle();  // a lone member, or reports that came first
  auto view = make_view(st, now);
  count_states(st, *view);
  st.view = view;
  st.host.publish(std::move(view));
  if (change.holders_changed && st.host.rebalance)
    start_rebalance(self, change);
}

// The key two members share: from the secret, both names and both
// incarnations, in an order both sides agree on (so either side's handshake,
// or both at once, give the same key).
std::string pair_key(const std::string& secret, const std::string& name_a, uint64_t inc_a,
                     const std::string& name_b, uint64_t inc_b) {
  auto a = name_a + "#" + std::to_string(inc_a), b = name_b + "#" + std::to_string(inc_b);
  if (b < a)
    std::swap(a, b);
  return handshake_proof(secret, "castellan/pair", a, b);
}

std::string message_mac(const std::string& key, uint64_t seq, std::string_view type,
                        std::string_view body) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size(), 16);
  unsigned char n[8];
  for (int i = 0; i < 8; ++i)
    n[i] = static_cast<unsigned char>(seq >> (8 * i));
  crypto_generichash_update(&st, n, sizeof n);
  uint32_t len = static_cast<uint32_t>(type.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(&len), sizeof len);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(type.data()), type.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(body.data()), body.size());
  std::string out(16, '\0');
  crypto_generichash_final(&st, reinterpret_cast<unsigned char*>(out.data()), out.size());
  return out;
}

// A link exists only for a member that passed the handshake.
void send_to(self_ptr self, member_link& to, std::string_view type, std::string body) {
  if (!to.handle)
    return;
  uint64_t seq = ++to.send_seq;
  auto mac = message_mac(to.pair_key, seq, type, body);
  self->send(to.handle, cluster_atom_v, std::string(type), std::move(body), seq, std::move(mac));
}

// Sends `body` of `type` to every member in touch (connected, not left).
void send_to_all(self_ptr self, std::string_view type, const std::string& body) {
  auto& st = self->state;
  for (auto& name : st.members.in_touch())
    if (auto it = st.links.find(name); it != st.links.end())
      send_to(self, it->second, type, body);
}

// Whether a hand-over run is in flight or waits to be redone.
bool handing_over(const cluster_state& st) { return !st.handovers.empty() || st.handover_redo; }

void heartbeat(self_ptr self) {
  auto& st = self->state;
  net::peer_heartbeat hb;
  hb.self = st.members.self();
  hb.load = st.host.load ? st.host.load() : net::member_load{};
  auto now = steady::now();
  hb.members = st.members.gossip(now);
  hb.stamp = std::chrono::duration_cast<milliseconds>(now.time_since_epoch()).count();
  hb.echoes = st.members.echoes();
  hb.majority = st.members.reachable_count(now) * 2 > st.members.known_count(now);
  hb.handed = handing_over(st) ? 0 : st.members.holders_fingerprint();
  hb.found_down = st.members.found_down(now);
  send_to_all(self, net::peer_heartbeat::type, net::pack_peer(hb));
}

// Monitors a peer's cluster node once, however many hellos and links name
// it: one down_msg when its connection goes (on_down forgets it).
void watch(self_ptr self, const caf::actor& handle) {
  if (self->state.watched.insert(handle.address()).second)
    self->monitor(handle);
}

// Connects to `address` (host:port) unless already connected or trying.
void connect(self_ptr self, const std::string& address) {
  auto& st = self->state;
  std::string host;
  uint16_t port = 0;
  if (!config::parse_host_port(address, host, port) || st.connecting.count(address))
    return;
  st.connecting.insert(address);
  self->request(st.dialer, std::chrono::seconds(2), caf::connect_atom_v, host, port)
      .then(
          [self, address](const caf::node_id& node, caf::strong_actor_ptr& ptr,
                          const std::set<std::string>&) {
            auto& st = self->state;
            st.connecting.erase(address);
            if (!ptr || st.hello_sent.count(node))
              return;
            auto handle = caf::actor_cast<caf::actor>(ptr);
            if (auto known = st.authed.find(node); known != st.authed.end()) {
              // The same process, a new connection: no new handshake needed.
              auto& to = st.links[known->second];
              if (to.handle != handle) {
                to.handle = handle;
                watch(self, handle);
              }
              st.members.reconnected(known->second);
              return;
            }
            auto nonce = random_nonce();
            st.hello_sent[node] = {nonce, steady::now()};
            watch(self, handle);
            auto& me = st.members.self();
            self->send(handle, cluster_atom_v, std::string(net::peer_hello::type),
                       net::pack_peer(net::peer_hello{me.name, me.address, nonce, me.incarnation}));
          },
          [self, address](caf::error&) { self->state.connecting.erase(address); });
}

// Every reconnect_interval_ms, give or take a quarter at random: members
// started together do not keep dialing in step (membership::dials).
void reconnect(self_ptr self) {
  auto& st = self->state;
  auto now = steady::now();
  if (now < st.next_reconnect)
    return;
  auto interval = st.cfg.reconnect_interval_ms;
  st.next_reconnect = now + milliseconds(interval * 3 / 4 + randombytes_uniform(interval / 2 + 1));
  // Their hello is in and our challenge out: connected already. For one
  // interval at most, since the address in a hello is not yet proven.
  std::set<std::string> answering;
  for (auto& [node, in] : st.challenged)
    if (now - in.sent < milliseconds(interval))
      answering.insert(in.address);
  for (auto& address : st.members.addresses_to_dial(now))
    if (!answering.count(address))
      connect(self, address);
}

// A joiner goes up (owns ranges) when the membership says it cannot be
// missing anything (membership::may_go_up), and tells everyone at once.
void maybe_up(self_ptr self) {
  auto& st = self->state;
  auto now = steady::now();
  if (!st.members.may_go_up(now))
    return;
  st.members.go_up();
  spdlog::info("cluster: {} is up ({} members handed over)", st.members.name(),
               st.members.handed_over_count(now));
  publish_view(self);
  heartbeat(self);
}

void expire_pending(self_ptr self, const std::string& only_member = {}) {
  auto& st = self->state;
  auto now = steady::now();
  for (auto it = st.forwards.begin(); it != st.forwards.end();)
    if ((only_member.empty() && it->second.deadline <= now) || it->second.member == only_member) {
      it = st.forwards.erase(it);  // the owed replies answer `unavailable`
      count(st, &actors::cluster_metrics::forward_lost);
    } else {
      ++it;
    }
  // A revoke share waits for its deadline even when its member goes down:
  // the share may still sit in the connection and act when the member comes
  // back, and until the deadline the member would not drop it (net::late).
  // So `unavailable` is answered only once no share can act any more.
  for (auto it = st.revokes.begin(); it != st.revokes.end();)
    if (it->second.deadline <= now)
      it = st.revokes.erase(it);  // its `done` reports the failure as it goes
    else
      ++it;
  for (auto it = st.limits.begin(); it != st.limits.end();)
    if ((only_member.empty() && it->second.deadline <= now) || it->second.member == only_member)
      it = st.limits.erase(it);
    else
      ++it;
  for (auto it = st.acks.begin(); it != st.acks.end();)
    if ((only_member.empty() && it->second.deadline <= now) || it->second.member == only_member)
      it = st.acks.erase(it);  // its part reports the failure as it goes
    else
      ++it;
}

// Others found (or may have found) this member down and took its ranges
// over: it comes back as a new incarnation, joining, and owns again only
// once every up member has handed it over anew (membership.hpp).
void rejoin(self_ptr self, const std::string& why) {
  auto& st = self->state;
  uint64_t incarnation = std::max<uint64_t>(static_cast<uint64_t>(net::wall_ms()),
                                            st.members.self().incarnation + 1);
  spdlog::warn("cluster: {} {}; rejoining as incarnation {}", st.members.name(), why, incarnation);
  st.members.rejoin(incarnation);
  st.handed_waiting.clear();  // hand-overs to the old incarnation
  count(st, &actors::cluster_metrics::rejoins);
  publish_view(self);
  heartbeat(self);
}

void tick(self_ptr self) {
  auto& st = self->state;
  auto now = steady::now();
  // A pause this long (SIGSTOP, a stalled host) is as long as the others
  // wait before they take this member's ranges over.
  auto paused = now - st.last_tick;
  st.last_tick = now;
  if (paused >= milliseconds(st.cfg.suspect_after_ms))
    st.members.forgive_silence(now);  // the others did not go silent: this process stopped
  if (st.members.self_state() == member_state::up &&
      paused >= milliseconds(st.cfg.down_after_ms))
    rejoin(self, "was paused for " +
                     std::to_string(std::chrono::duration_cast<milliseconds>(paused).count()) +
                     " ms");
  // A member that goes down takes its in-flight requests with it.
  for (auto& name : st.members.detect_down(now)) {
    spdlog::warn("cluster: {} is silent (for {} ms)", name,
                 std::chrono::duration_cast<milliseconds>(now - st.members.find(name)->heard).count());
    expire_pending(self, name);
  }
  expire_pending(self);
  expire_handshakes(self, now);
  reconnect(self);
  heartbeat(self);
  maybe_up(self);
  publish_view(self);
  if (st.handover_redo && st.members.holders() && st.host.rebalance) {
    st.handover_redo = false;
    start_handover(self, std::move(st.redo_before));
  }
}

// -- the handshake -----------------------------------------------------------------

void on_hello(self_ptr self, const caf::strong_actor_ptr& sender, const std::string& body) {
  auto& st = self->state;
  auto hello = net::unpack_peer<net::peer_hello>(body);
  auto node = sender->node();
  auto now = steady::now();
  if (st.refused_nodes.count(node)) {
    // It failed the handshake lately: no challenge, so no proof, for it.
    refuse(self, hello.name, hello.address,
           "it failed the cluster-secret handshake less than " +
               std::to_string(refusal_quiet.count()) + " s ago; its hello is not answered");
    return;
  }
  if (st.challenged.count(node)) {
    // Saying hello again before proving: it refused our challenge, or will
    // answer it late. It gets no second proof; the first challenge's clock
    // runs on (expire_handshakes).
    return;
  }
  if (st.challenged.size() >= max_handshakes) {
    auto first = oldest(st.challenged, [](auto& in) { return in.sent; });
    refuse(self, first->second.name, first->second.address,
           "more than " + std::to_string(max_handshakes) +
               " handshakes in flight; the oldest is dropped");
    st.challenged.erase(first);
  }
  auto nonce = random_nonce();
  watch(self, caf::actor_cast<caf::actor>(sender));  // its connection may close mid-handshake
  st.challenged[node] = {hello.nonce, nonce, hello.name, hello.address, hello.incarnation, now};
  auto& me = st.members.self();
  net::peer_challenge c{me.name, me.address, nonce,
                        handshake_proof(st.secret, "castellan/answer", hello.nonce, nonce),
                        me.incarnation};
  self->send(caf::actor_cast<caf::actor>(sender), cluster_atom_v,
             std::string(net::peer_challenge::type), net::pack_peer(c));
}

// Connects the link to `name` to its cluster node, with a fresh key when
// either side is a new process.
void link_to(self_ptr self, member_link& to, const caf::actor& handle, const caf::node_id& node,
             const std::string& name, uint64_t incarnation) {
  auto& st = self->state;
  if (to.handle != handle) {
    to.handle = handle;
    watch(self, handle);
  }
  to.node = node;
  if (to.pair_key.empty() || to.pair_incarnation != incarnation) {
    // A new process on either side: a new key, and both counters start over.
    auto& me = st.members.self();
    to.pair_key = pair_key(st.secret, me.name, me.incarnation, name, incarnation);
    to.pair_incarnation = incarnation;
    to.send_seq = 0;
    to.recv_seq = 0;
  }
}

// Records `name` as an authenticated member reachable through `handle`.
void admit(self_ptr self, const caf::actor& handle, const caf::node_id& node,
           const std::string& name, const std::string& address, uint64_t incarnation) {
  auto& st = self->state;
  auto known = st.links.find(name);
  bool new_process = known != st.links.end() && known->second.node != node;
  if (!st.members.admit(name, address, new_process, steady::now(), net::wall_ms())) {
    spdlog::error("cluster: a peer at {} uses this node's own name {}; refused", address, name);
    return;
  }
  st.authed[node] = name;
  link_to(self, st.links[name], handle, node, name, incarnation);
  spdlog::info("cluster: {} at {} authenticated", name, st.members.find(name)->info.address);
  heartbeat(self);
  publish_view(self);
}

void on_challenge(self_ptr self, const caf::strong_actor_ptr& sender, const std::string& body) {
  auto& st = self->state;
  auto c = net::unpack_peer<net::peer_challenge>(body);
  auto node = sender->node();
  auto sent = st.hello_sent.find(node);
  if (sent == st.hello_sent.end())
    return;
  auto hello_nonce = sent->second.nonce;
  st.hello_sent.erase(sent);
  if (!same_proof(c.proof, handshake_proof(st.secret, "castellan/answer", hello_nonce, c.nonce))) {
    refuse(self, c.name, c.address, "it does not know the cluster secret");
    remember_refused(st, node, steady::now());
    return;  // and it gets no proof of ours
  }
  auto handle = caf::actor_cast<caf::actor>(sender);
  self->send(handle, cluster_atom_v, std::string(net::peer_proof::type),
             net::pack_peer(net::peer_proof{
                 st.members.name(),
                 handshake_proof(st.secret, "castellan/join", hello_nonce, c.nonce)}));
  admit(self, handle, node, c.name, c.address, c.incarnation);
}

void on_proof(self_ptr self, const caf::strong_actor_ptr& sender, const std::string& body) {
  auto& st = self->state;
  auto proof = net::unpack_peer<net::peer_proof>(body);
  auto node = sender->node();
  auto it = st.challenged.find(node);
  if (it == st.challenged.end())
    return;  // no challenge pending (or dropped and refused already: a late proof admits nothing)
  auto in = it->second;
  st.challenged.erase(it);
  if (!same_proof(proof.proof,
                  handshake_proof(st.secret, "castellan/join", in.hello_nonce, in.my_nonce))) {
    refuse(self, in.name, in.address, "wrong cluster secret");
    remember_refused(st, node, steady::now());
    return;
  }
  admit(self, caf::actor_cast<caf::actor>(sender), sender->node(), in.name, in.address,
        in.incarnation);
}

// -- members' traffic ------------------------------------------------------------

void on_heartbeat(self_ptr self, const std::string& member, const std::string& body) {
  auto hb = net::unpack_peer<net::peer_heartbeat>(body);
  uint64_t handed = hb.handed;
  bool votes = !hb.found_down.empty();
  auto news = self->state.members.heartbeat(member, std::move(hb), steady::now());
  if (handed)
    note_report(self, member, handed);
  if (news.marked_down)
    rejoin(self, "is listed down by " + member);
  if (news.restarted) {  // what waited was for the old process
    self->state.handed_waiting.erase(member);
    self->state.reports_waiting.erase(member);
  }
  if (news.restarted)
    spdlog::info("cluster: {} restarted (incarnation {})", member,
                 self->state.members.find(member)->info.incarnation);
  // A member just learned of is dialed at the next reconnect tick, not now:
  // it is usually dialing its seeds at this very moment, and two members
  // dialing each other at once can leave CAF's middleman without either
  // connection (membership.hpp, addresses_to_dial).
  for (auto& m : news.learned)
    spdlog::info("cluster: learned of {} at {} from {}", m.name, m.address, member);
  if (votes)
    publish_view(self);  // its finding may make a majority: the ranges move now
}

void on_leave(self_ptr self, const std::string& member, const std::string& body) {
  net::unpack_peer<net::peer_leave>(body);  // malformed: dropped before acting on it
  spdlog::info("cluster: {} left", member);
  self->state.members.left(member);
  expire_pending(self, member);
  send_to(self, member, net::peer_ack{0, true});
  publish_view(self);
}

// What an admitted member may send, by type; the handshake's three types are
// handled before admission.
using member_handler = void (*)(self_ptr, const std::string& member, const std::string& body);

const std::map<std::string_view, member_handler>& member_handlers() {
  static const std::map<std::string_view, member_handler> table = {
    {net::peer_heartbeat::type, on_heartbeat},
    {net::peer_ops::type, on_ops},
    {net::peer_replies::type, on_replies},
    {net::peer_open::type, on_open},
    {net::peer_replicate::type, on_replicate},
    {net::peer_ack::type, on_ack},
    {net::peer_limit_check::type, on_limit_check},
    {net::peer_limit_decision::type, on_limit_decision},
    {net::peer_limit_outcome::type,
     [](self_ptr s, const std::string&, const std::string& b) { on_limit_outcome(s, b); }},
    {net::peer_revoke::type, on_revoke},
    {net::peer_revoke_done::type, on_revoke_done},
    {net::peer_handover_done::type,
     on_handover_done},
    {net::peer_leave::type, on_leave},
  };
  return table;
}

// The handshake's three messages: the only ones accepted without a MAC.
void on_handshake(self_ptr self, const std::string& type, const std::string& body) {
  const auto& sender = self->current_sender();
  if (!sender || body.size() > max_handshake_bytes)
    return;
  try {
    if (type == net::peer_hello::type)
      on_hello(self, sender, body);
    else if (type == net::peer_challenge::type)
      on_challenge(self, sender, body);
    else if (type == net::peer_proof::type)
      on_proof(self, sender, body);
    else
      spdlog::warn("cluster: dropped a `{}` message without a MAC", net::log_safe(type));
  } catch (const std::exception& e) {
    spdlog::warn("cluster: malformed `{}` handshake message dropped: {}", net::log_safe(type),
                 e.what());
  }
}

// A member's message: from an admitted node, in sequence, with a valid MAC.
void on_peer_message(self_ptr self, const std::string& type, const std::string& body,
                     uint64_t seq, const std::string& mac) {
  auto& st = self->state;
  const auto& sender = self->current_sender();
  if (!sender)
    return;  // anonymous: cannot be a member
  auto who = st.authed.find(sender->node());
  if (who == st.authed.end()) {
    spdlog::warn("cluster: dropped a `{}` message from an unauthenticated node",
                 net::log_safe(type));
    count(st, &actors::cluster_metrics::peers_refused);
    return;
  }
  auto& from = st.links[who->second];
  if (seq <= from.recv_seq || !same_proof(mac, message_mac(from.pair_key, seq, type, body))) {
    spdlog::warn("cluster: dropped a `{}` message claiming to be from {}: bad MAC or replayed",
                 net::log_safe(type), who->second);
    count(st, &actors::cluster_metrics::peers_refused);
    return;
  }
  from.recv_seq = seq;
  st.members.heard(who->second, steady::now(), net::wall_ms());
  try {
    auto handler = member_handlers().find(type);
    if (handler == member_handlers().end())
      spdlog::warn("cluster: unknown message type `{}` from {}", type, who->second);
    else
      handler->second(self, who->second, body);
  } catch (const std::exception& e) {
    // A member's bad message must not take this node (and its clients) down.
    spdlog::warn("cluster: malformed `{}` message dropped: {}", type, e.what());
  }
}

// Leaving, with everything handed over: tell every member in touch, then
// let the node stop once they all acknowledged (on_ack) or nobody is left.
void announce_leave(self_ptr self) {
  auto& st = self->state;
  auto& me = st.members.self();
  auto in_touch = st.members.in_touch();
  st.leave_acks = in_touch.size();
  for (auto& member : in_touch)
    send_to(self, member, net::peer_leave{me.name, me.incarnation, 0});
  if (st.leave_acks == 0) {
    auto f = std::move(st.on_left);
    st.on_left = nullptr;
    f();
  }
}

// Once no run is in flight or waiting to be redone: joiners are current.
void handover_complete(self_ptr self) {
  auto& st = self->state;
  if (handing_over(st))
    return;  // the last run to finish reports
  for (auto& member : st.joiners_waiting)
    send_to(self, member,
            net::peer_handover_done{st.members.name(), st.members.holders_fingerprint()});
  heartbeat(self);  // tells every member at once: their copies may be complete now
  st.joiners_waiting.clear();
  if (st.members.self_state() == member_state::leaving && st.on_left)
    announce_leave(self);
}

// A shard lost its share of a run: what it had to send may never have left,
// so the run is redone (every shard; merges make repeats harmless) on the
// next tick, once the supervisor has restarted it. A redo goes from the
// failed run's ring to the holders of that moment, which covers the runs
// since; two failed runs from different rings are redone from none (every
// holder is sent everything), as a ring between them would miss keys.
void on_handover_finished(self_ptr self, const handover_finished& msg) {
  auto& st = self->state;
  auto it = st.handovers.find(msg.run);
  if (it == st.handovers.end())
    return;
  if (!msg.ok) {
    spdlog::warn("cluster: a shard was lost during hand-over {}; redoing it", msg.run);
    if (!st.handover_redo)
      st.redo_before = it->second;
    else if (st.redo_before != it->second)
      st.redo_before = nullptr;
    st.handover_redo = true;
  }
  st.handovers.erase(it);
  handover_complete(self);
}

// Graceful leave (SIGTERM): stop owning, hand everything over, tell every
// member; the reply comes once they all heard (or the caller's timeout
// passes).
caf::result<bool> leave(self_ptr self) {
  auto& st = self->state;
  auto promise = self->make_response_promise<bool>();
  st.members.start_leaving();
  st.on_left = [promise]() mutable { promise.deliver(true); };
  heartbeat(self);
  publish_view(self);  // self out of the rings: the rebalance hands everything over
  handover_complete(self);  // at once if there was nothing to hand over
  return promise;
}

// A connection lost during the handshake ends it without blame, unlogged
// (a stranger's dropped connections must not flood the log): the next dial
// starts a fresh one, with no refusal_quiet. Refusing here would lock a
// member out for refusal_quiet after a connection CAF closed as redundant.
void forget_handshakes(self_ptr self, const caf::node_id& node) {
  self->state.hello_sent.erase(node);
  self->state.challenged.erase(node);
}

// A member's cluster node went away (its process died or the connection
// dropped): it is down at once, and its in-flight requests fail.
void on_down(self_ptr self, const caf::down_msg& msg) {
  self->state.watched.erase(msg.source);
  forget_handshakes(self, msg.source.node());
  for (auto& [name, to] : self->state.links)
    if (to.handle && to.handle.address() == msg.source && self->state.members.lose(name)) {
      spdlog::warn("cluster: lost the connection to {}", name);
      expire_pending(self, name);
      heartbeat(self);  // this member's finding, to the others at once
      publish_view(self);
    }
}

// Only this process may stop the cluster node: an exit from another node
// (which may not have passed the handshake) is logged and ignored. (CAF
// delivers exit_reason::kill regardless: docs/cluster.md, "Known limits".)
void on_exit(self_ptr self, const caf::exit_msg& msg) {
  if (msg.source && msg.source.node() != self->node()) {
    spdlog::warn("cluster: ignored an exit request from another node");
    return;
  }
  self->quit(msg.reason);
}

void init_state(cluster_state& st, cluster_deps deps) {
  st.cfg = std::move(deps.cfg);
  st.metrics = deps.metrics;
  st.secret = std::move(deps.secret);
  st.host = std::move(deps.host);
  st.dialer = std::move(deps.dialer);
  st.members = membership({std::move(deps.self), st.cfg.seeds, st.cfg.replicas,
                           milliseconds(st.cfg.suspect_after_ms), milliseconds(st.cfg.down_after_ms),
                           milliseconds(st.cfg.reconnect_interval_ms)},
                          steady::now());
}

caf::behavior cluster_behavior(self_ptr self, cluster_deps deps) {
  auto& st = self->state;
  init_state(st, std::move(deps));
  self->set_exit_handler([self](caf::exit_msg& msg) { on_exit(self, msg); });
  self->set_down_handler([self](caf::down_msg& msg) { on_down(self, msg); });
  publish_view(self);
  reconnect(self);
  st.last_tick = steady::now();
  self->delayed_send(self, milliseconds(st.cfg.heartbeat_interval_ms), tick_atom_v);
  return {
    [self](cluster_atom, const std::string& type, const std::string& body) {
      on_handshake(self, type, body);
    },
    [self](cluster_atom, const std::string& type, const std::string& body, uint64_t seq,
           const std::string& mac) { on_peer_message(self, type, body, seq, mac); },
    [self](tick_atom) {
      tick(self);
      self->delayed_send(self, milliseconds(self->state.cfg.heartbeat_interval_ms), tick_atom_v);
    },
    [self](forward_ops& msg) { forward(self, msg); },
    [self](forward_open& msg) { forward_login(self, msg); },
    [self](replicate_out& msg) { replicate(self, msg); },
    [self](handover_out& msg) {
      count(self->state, &actors::cluster_metrics::handover_sent,
            static_cast<double>(msg.events.size()));
      send_to(self, msg.member, net::peer_replicate{0, std::move(msg.events)});
    },
    [self](handover_finished& msg) { on_handover_finished(self, msg); },
    [self](limit_out& msg) { check_limits_remotely(self, msg); },
    [self](teach_out& msg) { teach_limits_remotely(self, msg); },
    [self](revoke_out& msg) { revoke_remotely(self, msg); },
    [self](peer_send& msg) {
      auto it = self->state.links.find(msg.member);
      if (it != self->state.links.end())
        send_to(self, it->second, msg.type, std::move(msg.body));
    },
    [self](leave_atom) { return leave(self); },
    [self](handed_atom, const std::string& member) { on_handover_applied(self, member); },
  };
}

}  // namespace cluster_detail

caf::actor spawn_cluster_node(caf::actor_system& sys, cluster_deps deps) {
  return sys.spawn(cluster_detail::cluster_behavior, std::move(deps));
}

}  // namespace castellan::actors
