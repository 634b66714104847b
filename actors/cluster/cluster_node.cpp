// The cluster node actor; see cluster_node.hpp and docs/cluster.md.
//
// Membership is each node's own opinion, formed from two signals: CAF's
// connection monitoring (a peer process that dies closes its socket, and the
// down_msg arrives at once) and heartbeats (a frozen or partitioned peer says
// nothing: silent for suspect_after_ms is suspect, for down_after_ms down).
// Heartbeats gossip the member list, so a node that joined through one seed
// learns, connects to and authenticates with every other member.
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
#include <spdlog/spdlog.h>

#include "actors/runtime/atoms.hpp"
#include "actors/cluster/cluster_state.hpp"
#include "actors/cluster/cluster_metrics.hpp"
#include "net/frame_codec.hpp"
#include "net/messages.hpp"
#include "net/owed_replies.hpp"
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

void count_states(const cluster_state& st, const cluster_view& view) {
  if (!st.metrics)
    return;
  double by_state[actors::member_state_count] = {};
  for (auto& m : view.members)
    for (size_t i = 0; i < actors::member_state_count; ++i)
      by_state[i] += m.info.state == actors::member_states[i];
  for (size_t i = 0; i < actors::member_state_count; ++i)
    st.metrics->members[i]->Set(by_state[i]);
}

// -- membership ------------------------------------------------------------------

// This node's opinion of a peer's state.
std::string state_of(const cluster_state& st, const peer& p, steady::time_point now) {
  if (p.left)
    return "left";
  if (!p.authenticated || p.lost)
    return "down";
  auto silent = now - p.heard;
  if (silent >= milliseconds(st.cfg.down_after_ms))
    return "down";
  if (silent >= milliseconds(st.cfg.suspect_after_ms))
    return "suspect";
  return p.info.state == "leaving" ? "leaving" : p.info.state;
}

std::vector<net::member_info> known_members(const cluster_state& st, steady::time_point now) {
  std::vector<net::member_info> out;
  auto me = st.self;
  me.state = st.self_state;
  out.push_back(me);
  for (auto& [name, p] : st.peers) {
    auto info = p.info;
    info.state = state_of(st, p, now);
    out.push_back(std::move(info));
  }
  return out;
}

// Asks every shard to send what members now hold (st.holders) that they did
// not under `before`, as run number N; handover_finished{N, ok} says it is over.
void start_handover(self_ptr self, std::shared_ptr<const actors::ring> before) {
  auto& st = self->state;
  uint64_t run = ++st.handover_runs;
  st.handovers.emplace(run, before);
  auto me = caf::actor_cast<caf::actor>(self);
  st.host.rebalance(
      std::move(before), st.holders, st.owners,
      [me](const std::string& member, std::vector<net::auth_event> events) {
        caf::anon_send(me, handover_out{member, std::move(events)});
      },
      [me, run](bool ok) { caf::anon_send(me, handover_finished{run, ok}); });
}

// Recomputes the rings and the view; starts a rebalance when the holders
// changed. Cheap enough to run on every tick.
void publish_view(self_ptr self) {
  auto& st = self->state;
  auto now = steady::now();
  std::vector<std::string> owners, holders;
  if (st.self_state == "up")
    owners.push_back(st.self.name);
  if (st.self_state == "up" || st.self_state == "joining")
    holders.push_back(st.self.name);
  auto view = std::make_shared<cluster_view>();
  view->self = st.self.name;
  cluster_member myself{st.self, st.host.load ? st.host.load() : net::member_load{},
                        net::wall_ms(), true};
  myself.info.state = st.self_state;
  view->members.push_back(std::move(myself));
  for (auto& [name, p] : st.peers) {
    auto state = state_of(st, p, now);
    if (state == "up" || state == "suspect")
      owners.push_back(name);
    if (state == "up" || state == "suspect" || state == "joining")
      holders.push_back(name);
    cluster_member m{p.info, p.load, p.heard_ms, false};
    m.info.state = state;
    if (state != "left")
      ++view->known;
    if (state == "up" || state == "suspect" || state == "joining" || state == "leaving")
      ++view->reachable;
    view->members.push_back(std::move(m));
  }
  // Seeds count towards the majority even before we have met them: a member
  // that restarts alone must not think itself a majority of one.
  for (auto& seed : st.cfg.seeds) {
    bool met = seed == st.self.address;
    for (auto& [name, p] : st.peers)
      met = met || p.info.address == seed;
    view->known += !met;
  }
  auto owners_ring = std::make_shared<const actors::ring>(owners, st.cfg.replicas);
  auto holders_ring = std::make_shared<const actors::ring>(holders, st.cfg.replicas);
  bool owners_changed = !st.owners || st.owners->members() != owners_ring->members();
  bool holders_changed = !st.holders || st.holders->members() != holders_ring->members();
  auto before = st.holders;
  if (!st.force_handover.empty() && before) {
    // A member that restarted while we still counted it as holding data
    // missed changes: hand over to it as if it had just joined.
    std::vector<std::string> kept;
    for (auto& m : before->members())
      if (!st.force_handover.count(m))
        kept.push_back(m);
    before = std::make_shared<const actors::ring>(kept, st.cfg.replicas);
    st.force_handover.clear();
    holders_changed = true;
  }
  if (owners_changed)
    st.owners = owners_ring;
  if (holders_changed)
    st.holders = holders_ring;
  if (owners_changed || holders_changed)
    ++st.epoch;
  view->owners = st.owners;
  view->holders = st.holders;
  view->epoch = st.epoch;
  count_states(st, *view);
  st.host.publish(view);
  if (!holders_changed || !st.host.rebalance)
    return;
  // Members now holding data they did not: hand it to them, then tell the
  // joiners among them that they are current.
  if (before)
    for (auto& m : holders_ring->members())
      if (m != st.self.name && before->index_of(m) < 0 && st.peers.count(m) &&
          state_of(st, st.peers[m], now) == "joining")
        st.joiners_waiting.insert(m);
  spdlog::info("cluster: holders now [{}] (epoch {})", [&] {
    std::string s;
    for (auto& m : holders_ring->members())
      s += (s.empty() ? "" : ", ") + m;
    return s;
  }(), st.epoch);
  start_handover(self, std::move(before));
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

void send_to(self_ptr self, peer& p, std::string_view type, std::string body) {
  if (!p.handle || !p.authenticated)
    return;
  uint64_t seq = ++p.send_seq;
  auto mac = message_mac(p.pair_key, seq, type, body);
  self->send(p.handle, cluster_atom_v, std::string(type), std::move(body), seq, std::move(mac));
}


void heartbeat(self_ptr self) {
  auto& st = self->state;
  auto now = steady::now();
  net::peer_heartbeat hb;
  hb.self = st.self;
  hb.self.state = st.self_state;
  hb.load = st.host.load ? st.host.load() : net::member_load{};
  hb.members = known_members(st, now);
  auto body = net::pack_peer(hb);
  for (auto& [name, p] : st.peers)
    if (!p.left && !p.lost)
      send_to(self, p, net::peer_heartbeat::type, body);
}

// Connects to `address` (host:port) unless already connected or trying.
void connect(self_ptr self, const std::string& address) {
  auto& st = self->state;
  std::string host;
  uint16_t port = 0;
  if (!config::parse_host_port(address, host, port) || st.connecting.count(address))
    return;
  st.connecting.insert(address);
  auto mm = self->home_system().middleman().actor_handle();
  self->request(mm, std::chrono::seconds(2), caf::connect_atom_v, host, port)
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
              auto& p = st.peers[known->second];
              if (p.handle != handle) {
                p.handle = handle;
                self->monitor(handle);
              }
              p.lost = false;
              return;
            }
            auto nonce = random_nonce();
            st.hello_sent[node] = nonce;
            self->monitor(handle);
            self->send(handle, cluster_atom_v, std::string(net::peer_hello::type),
                       net::pack_peer(net::peer_hello{st.self.name, st.self.address, nonce,
                                                      st.self.incarnation}));
          },
          [self, address](caf::error&) { self->state.connecting.erase(address); });
}

void reconnect(self_ptr self) {
  auto& st = self->state;
  auto now = steady::now();
  if (now - st.last_reconnect < milliseconds(st.cfg.reconnect_interval_ms))
    return;
  st.last_reconnect = now;
  std::set<std::string> connected;
  for (auto& [name, p] : st.peers)
    if (p.authenticated && !p.lost)
      connected.insert(p.info.address);
  for (auto& seed : st.cfg.seeds)
    if (seed != st.self.address && !connected.count(seed))
      connect(self, seed);
  for (auto& [name, p] : st.peers)
    if (!p.left && !connected.count(p.info.address) && !p.info.address.empty())
      connect(self, p.info.address);
}

// A joiner owns ranges once every member that is up has handed it its share
// (or, with nobody up to ask, once it has waited a detection period: it is
// the first node, or the whole cluster is starting together).
// A joiner owns ranges only once it cannot be missing anything: every member
// that is up (or suspect) has handed it its share. It first waits to learn
// each member's state: admitted members until their first heartbeat, members
// others report alive until it has met them (at most down_after_ms). With
// nobody up to ask it waits down_after_ms: it is the first member, or the
// whole cluster is starting together.
void maybe_up(self_ptr self) {
  auto& st = self->state;
  if (st.self_state != "joining")
    return;
  auto now = steady::now();
  auto wait = milliseconds(st.cfg.down_after_ms);
  size_t up = 0, handed = 0;
  for (auto& [name, p] : st.peers) {
    auto state = state_of(st, p, now);
    if (p.authenticated && !p.lost && !p.left && !p.heartbeat_seen)
      return;  // its state is not known yet
    if (!p.authenticated && p.reported_alive && now - p.learned < wait)
      return;  // not met yet, but alive by others' account
    if (state == "up" || state == "suspect") {
      ++up;
      handed += st.handover_from.count(name);
    }
  }
  if ((up > 0 && handed == up) || (up == 0 && now - st.started >= wait)) {
    st.self_state = "up";
    spdlog::info("cluster: {} is up ({} members handed over)", st.self.name, handed);
    publish_view(self);
    heartbeat(self);
  }
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
  for (auto it = st.revokes.begin(); it != st.revokes.end();)
    if ((only_member.empty() && it->second.deadline <= now) || it->second.member == only_member)
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

void tick(self_ptr self) {
  auto& st = self->state;
  auto now = steady::now();
  // A member that goes down takes its in-flight requests with it.
  for (auto& [name, p] : st.peers)
    if (p.authenticated && state_of(st, p, now) == "down" && !p.lost) {
      spdlog::warn("cluster: {} is down (silent for {} ms)", name,
                   std::chrono::duration_cast<milliseconds>(now - p.heard).count());
      p.lost = true;
      expire_pending(self, name);
    }
  expire_pending(self);
  reconnect(self);
  heartbeat(self);
  maybe_up(self);
  publish_view(self);
  if (st.handover_redo && st.holders && st.host.rebalance) {
    st.handover_redo = false;
    start_handover(self, std::move(st.redo_before));
  }
}

// -- the handshake -----------------------------------------------------------------

void on_hello(self_ptr self, const caf::strong_actor_ptr& sender, const std::string& body) {
  auto& st = self->state;
  auto hello = net::unpack_peer<net::peer_hello>(body);
  auto nonce = random_nonce();
  st.challenged[sender->node()] = {hello.nonce, nonce, hello.name, hello.address,
                                   hello.incarnation};
  net::peer_challenge c{st.self.name, st.self.address, nonce,
                        handshake_proof(st.secret, "castellan/answer", hello.nonce, nonce),
                        st.self.incarnation};
  self->send(caf::actor_cast<caf::actor>(sender), cluster_atom_v,
             std::string(net::peer_challenge::type), net::pack_peer(c));
}

// Records `name` as an authenticated member reachable through `handle`.
void admit(self_ptr self, const caf::actor& handle, const caf::node_id& node,
           const std::string& name, const std::string& address, uint64_t incarnation) {
  auto& st = self->state;
  if (name == st.self.name) {
    spdlog::error("cluster: a peer at {} uses this node's own name {}; refused", address, name);
    return;
  }
  st.authed[node] = name;
  auto& p = st.peers[name];
  if (p.authenticated && p.node != node) {
    // A new process under a known name: it restarted and missed changes
    // while it was away, so it joins afresh (and, if we never saw it go,
    // gets everything it holds handed over again).
    if (!p.lost)
      st.force_handover.insert(name);
    p.info.state = "joining";
    p.info.incarnation = 0;
    p.heartbeat_seen = false;
    st.handover_from.erase(name);
  }
  if (p.handle != handle) {
    p.handle = handle;
    self->monitor(handle);
  }
  p.node = node;
  if (p.pair_key.empty() || p.pair_incarnation != incarnation) {
    // A new process on either side: a new key, and both counters start over.
    p.pair_key = pair_key(st.secret, st.self.name, st.self.incarnation, name, incarnation);
    p.pair_incarnation = incarnation;
    p.send_seq = 0;
    p.recv_seq = 0;
  }
  p.authenticated = true;
  p.lost = false;
  p.left = false;
  p.info.name = name;
  if (!address.empty())
    p.info.address = address;
  if (p.info.state.empty() || p.info.state == "down" || p.info.state == "left")
    p.info.state = "joining";
  p.heard = steady::now();
  p.heard_ms = net::wall_ms();
  spdlog::info("cluster: {} at {} authenticated", name, p.info.address);
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
  auto hello_nonce = sent->second;
  st.hello_sent.erase(sent);
  if (!same_proof(c.proof, handshake_proof(st.secret, "castellan/answer", hello_nonce, c.nonce))) {
    spdlog::error("cluster: refused {} at {}: it does not know the cluster secret", c.name,
                  c.address);
    count(st, &actors::cluster_metrics::peers_refused);
    return;
  }
  auto handle = caf::actor_cast<caf::actor>(sender);
  self->send(handle, cluster_atom_v, std::string(net::peer_proof::type),
             net::pack_peer(net::peer_proof{
                 st.self.name, handshake_proof(st.secret, "castellan/join", hello_nonce, c.nonce)}));
  admit(self, handle, node, c.name, c.address, c.incarnation);
}

void on_proof(self_ptr self, const caf::strong_actor_ptr& sender, const std::string& body) {
  auto& st = self->state;
  auto proof = net::unpack_peer<net::peer_proof>(body);
  auto it = st.challenged.find(sender->node());
  if (it == st.challenged.end())
    return;
  auto in = it->second;
  st.challenged.erase(it);
  if (!same_proof(proof.proof,
                  handshake_proof(st.secret, "castellan/join", in.hello_nonce, in.my_nonce))) {
    spdlog::error("cluster: refused {} at {}: wrong cluster secret", in.name, in.address);
    count(st, &actors::cluster_metrics::peers_refused);
    return;
  }
  admit(self, caf::actor_cast<caf::actor>(sender), sender->node(), in.name, in.address,
        in.incarnation);
}

// -- members' traffic ------------------------------------------------------------

void on_heartbeat(self_ptr self, peer& p, const std::string& body) {
  auto& st = self->state;
  auto hb = net::unpack_peer<net::peer_heartbeat>(body);
  p.heartbeat_seen = true;
  bool restarted = p.info.incarnation && hb.self.incarnation != p.info.incarnation;
  p.info = hb.self;
  p.load = std::move(hb.load);
  if (restarted) {
    spdlog::info("cluster: {} restarted (incarnation {})", p.info.name, p.info.incarnation);
    st.handover_from.erase(p.info.name);
    st.force_handover.insert(p.info.name);
  }
  for (auto& m : hb.members)  // gossip: learn members we have not met
    if (m.name != st.self.name && !st.peers.count(m.name) && m.state != "left" &&
        !m.address.empty()) {
      auto& fresh = st.peers[m.name];
      fresh.info = m;
      fresh.info.state = "down";  // until it answers us itself
      fresh.reported_alive = m.state == "up" || m.state == "suspect" || m.state == "joining";
      fresh.learned = steady::now();
      spdlog::info("cluster: learned of {} at {} from {}", m.name, m.address, p.info.name);
      connect(self, m.address);
    }
}

void on_leave(self_ptr self, peer& p, const std::string& body) {
  auto leave = net::unpack_peer<net::peer_leave>(body);
  spdlog::info("cluster: {} left", p.info.name);
  p.left = true;
  p.info.state = "left";
  expire_pending(self, p.info.name);
  send_to(self, p, net::peer_ack::type, net::pack_peer(net::peer_ack{0, true}));
  publish_view(self);
}

// What an admitted member may send, by type; the handshake's three types are
// handled before admission.
using member_handler = void (*)(self_ptr, peer&, const std::string& member, const std::string& body);

const std::map<std::string_view, member_handler>& member_handlers() {
  static const std::map<std::string_view, member_handler> table = {
    {net::peer_heartbeat::type, [](self_ptr s, peer& p, const std::string&, const std::string& b) {
       on_heartbeat(s, p, b);
     }},
    {net::peer_ops::type, [](self_ptr s, peer&, const std::string& m, const std::string& b) { on_ops(s, m, b); }},
    {net::peer_replies::type, [](self_ptr s, peer&, const std::string& m, const std::string& b) {
       on_replies(s, m, b);
     }},
    {net::peer_open::type, [](self_ptr s, peer&, const std::string& m, const std::string& b) { on_open(s, m, b); }},
    {net::peer_replicate::type, [](self_ptr s, peer&, const std::string& m, const std::string& b) {
       on_replicate(s, m, b);
     }},
    {net::peer_ack::type, [](self_ptr s, peer&, const std::string& m, const std::string& b) { on_ack(s, m, b); }},
    {net::peer_limit_check::type, [](self_ptr s, peer&, const std::string& m, const std::string& b) {
       on_limit_check(s, m, b);
     }},
    {net::peer_limit_decision::type, [](self_ptr s, peer&, const std::string& m, const std::string& b) {
       on_limit_decision(s, m, b);
     }},
    {net::peer_limit_outcome::type, [](self_ptr s, peer&, const std::string&, const std::string& b) {
       on_limit_outcome(s, b);
     }},
    {net::peer_revoke::type, [](self_ptr s, peer&, const std::string& m, const std::string& b) {
       on_revoke(s, m, b);
     }},
    {net::peer_revoke_done::type, [](self_ptr s, peer&, const std::string& m, const std::string& b) {
       on_revoke_done(s, m, b);
     }},
    {net::peer_handover_done::type, [](self_ptr s, peer&, const std::string& m, const std::string&) {
       s->state.handover_from.insert(m);
     }},
    {net::peer_leave::type, [](self_ptr s, peer& p, const std::string&, const std::string& b) {
       on_leave(s, p, b);
     }},
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
      spdlog::warn("cluster: dropped a `{}` message without a MAC", type);
  } catch (const std::exception& e) {
    spdlog::warn("cluster: malformed `{}` handshake message dropped: {}", type, e.what());
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
    spdlog::warn("cluster: dropped a `{}` message from an unauthenticated node", type);
    count(st, &actors::cluster_metrics::peers_refused);
    return;
  }
  auto& p = st.peers[who->second];
  if (seq <= p.recv_seq || !same_proof(mac, message_mac(p.pair_key, seq, type, body))) {
    spdlog::warn("cluster: dropped a `{}` message claiming to be from {}: bad MAC or replayed",
                 type, who->second);
    count(st, &actors::cluster_metrics::peers_refused);
    return;
  }
  p.recv_seq = seq;
  p.heard = steady::now();
  p.heard_ms = net::wall_ms();
  p.lost = false;
  try {
    auto handler = member_handlers().find(type);
    if (handler == member_handlers().end())
      spdlog::warn("cluster: unknown message type `{}` from {}", type, who->second);
    else
      handler->second(self, p, who->second, body);
  } catch (const std::exception& e) {
    // A member's bad message must not take this node (and its clients) down.
    spdlog::warn("cluster: malformed `{}` message dropped: {}", type, e.what());
  }
}

// Once no run is in flight or waiting to be redone: joiners are current.
void handover_complete(self_ptr self) {
  auto& st = self->state;
  if (!st.handovers.empty() || st.handover_redo)
    return;  // the last run to finish reports
  for (auto& member : st.joiners_waiting)
    send_to(self, member, net::peer_handover_done{st.self.name});
  st.joiners_waiting.clear();
  if (st.self_state == "leaving" && st.on_left) {
    // Everything handed over: tell everyone, then let the node stop.
    st.leave_acks = 0;
    for (auto& [name, p] : st.peers)
      if (p.authenticated && !p.lost && !p.left) {
        ++st.leave_acks;
        send_to(self, p, net::peer_leave::type,
                net::pack_peer(net::peer_leave{st.self.name, st.self.incarnation, 0}));
      }
    if (st.leave_acks == 0) {
      auto f = std::move(st.on_left);
      st.on_left = nullptr;
      f();
    }
  }
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

caf::behavior cluster_behavior(self_ptr self, cluster_deps deps) {
  auto& st = self->state;
  st.cfg = std::move(deps.cfg);
  st.metrics = deps.metrics;
  st.secret = std::move(deps.secret);
  st.self = std::move(deps.self);
  st.host = std::move(deps.host);
  // Only this process may stop the cluster node: an exit from another node
  // (which may not have passed the handshake) is logged and ignored. (CAF
  // delivers exit_reason::kill regardless: docs/cluster.md, "Known limits".)
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (msg.source && msg.source.node() != self->node()) {
      spdlog::warn("cluster: ignored an exit request from another node");
      return;
    }
    self->quit(msg.reason);
  });
  self->set_down_handler([self](caf::down_msg& msg) {
    for (auto& [name, p] : self->state.peers)
      if (p.handle && p.handle.address() == msg.source && !p.lost) {
        spdlog::warn("cluster: lost the connection to {}", name);
        p.lost = true;
        expire_pending(self, name);
        publish_view(self);
      }
  });
  publish_view(self);
  reconnect(self);
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
      auto it = self->state.peers.find(msg.member);
      if (it != self->state.peers.end())
        send_to(self, it->second, msg.type, std::move(msg.body));
    },
    // Graceful leave (SIGTERM): stop owning, hand everything over, tell
    // every member; the reply comes once they all heard (or the caller's
    // timeout passes).
    [self](leave_atom) -> caf::result<bool> {
      auto& st = self->state;
      auto promise = self->make_response_promise<bool>();
      st.self_state = "leaving";
      st.on_left = [promise]() mutable { promise.deliver(true); };
      heartbeat(self);
      publish_view(self);  // self out of the rings: the rebalance hands everything over
      handover_complete(self);  // at once if there was nothing to hand over
      return promise;
    },
  };
}

}  // namespace cluster_detail

caf::actor spawn_cluster_node(caf::actor_system& sys, cluster_deps deps) {
  return sys.spawn(cluster_detail::cluster_behavior, std::move(deps));
}

}  // namespace castellan::actors
