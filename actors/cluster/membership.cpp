// Membership decisions; see membership.hpp for the state machine. Every
// function here decides from facts and `now` only: no message is sent and no
// clock read, so each rule can be tested alone.
#include "actors/cluster/membership.hpp"

#include <algorithm>

namespace castellan::actors {

using net::member_state;

membership::membership(settings s, clock::time_point started)
    : cfg_(std::move(s)), self_(cfg_.self), started_(started) {
  self_.state = member_state::joining;
}

// -- this member ------------------------------------------------------------------

// A joiner owns ranges only once it cannot be missing anything: every member
// that is up (or suspect) has handed it its share. It first waits to learn
// each member's state: admitted members until their first heartbeat, members
// others report alive until it has met them (at most down_after_ms). With
// nobody up to ask it waits down_after_ms: it is the first member, or the
// whole cluster is starting together.
void membership::rejoin(uint64_t incarnation) {
  self_.incarnation = incarnation;
  self_.state = member_state::joining;
  settled_ = nullptr;  // others took its ranges over: what it holds may be stale
  for (auto& [name, m] : members_) {
    m.handed_over = false;  // they handed over to the old incarnation
    // A new incarnation starts with no grudge: whoever it found down was
    // found so while it was the one out of touch (or the other rejoins too).
    m.marked_down = false;
  }
}

// Listed down by `m`, this member rejoins, unless it found `m` down too:
// then exactly one of the two rejoins, the one on the minority side, or,
// when both reach a majority (a partition that cut only them apart), the
// one with the greater name. Otherwise each would keep the other down for
// good.
bool membership::yields_to(const member& m, bool sender_majority, clock::time_point now) const {
  if (!m.marked_down)
    return true;
  bool majority = reachable_count(now) * 2 > known_count(now);
  if (majority != sender_majority)
    return !majority;
  return self_.name > m.info.name;
}

membership::clock::time_point membership::lease_until(clock::time_point now) const {
  size_t known = known_count(now);
  if (known <= 1)
    return clock::time_point::max();
  std::vector<clock::time_point> heard_us{now};  // this member hears itself
  for (auto& [name, m] : members_)
    if (state_of(m, now) != member_state::left && m.authenticated && !m.lost)
      heard_us.push_back(m.echoed);
  size_t need = known / 2 + 1;
  if (heard_us.size() < need)
    return {};
  std::nth_element(heard_us.begin(), heard_us.begin() + static_cast<long>(need - 1), heard_us.end(),
                   std::greater<>());
  return heard_us[need - 1] + (cfg_.down_after - cfg_.suspect_after);
}

bool membership::may_go_up(clock::time_point now) const {
  if (self_.state != member_state::joining)
    return false;
  size_t up = 0, handed = 0;
  for (auto& [name, m] : members_) {
    if (m.authenticated && !m.lost && !m.left && !m.heartbeat_seen)
      return false;  // its state is not known yet
    if (!m.authenticated && m.reported_alive && now - m.learned < cfg_.down_after)
      return false;  // not met yet, but alive by others' account
    if (owns_ranges(state_of(m, now))) {
      ++up;
      handed += m.handed_over;
    }
  }
  if (up > 0)
    return handed == up;
  return now - started_ >= cfg_.down_after;
}

size_t membership::handed_over_count(clock::time_point now) const {
  size_t n = 0;
  for (auto& [name, m] : members_)
    n += m.handed_over && owns_ranges(state_of(m, now));
  return n;
}

// -- events from other members ----------------------------------------------------

bool membership::admit(const std::string& name, const std::string& address, bool new_process,
                       clock::time_point now, int64_t now_ms) {
  if (name == self_.name)
    return false;
  auto& m = members_[name];
  if (m.authenticated && new_process) {
    // It restarted and missed changes while it was away, so it joins afresh
    // and, if it is still in the rings (we never saw it go, or too few of us
    // did to move its ranges), gets everything it holds handed over again.
    if (holders_ && holders_->index_of(name) >= 0)
      force_handover_.insert(name);
    m.info.state = member_state::joining;
    m.info.incarnation = 0;
    m.heartbeat_seen = false;
    m.handed_over = false;
    m.handed_for = 0;
    m.down_votes.clear();
    m.marked_down = false;  // a new process is a new incarnation
    m.echoed = {};
  }
  m.authenticated = true;
  m.lost = false;
  m.left = false;
  m.info.name = name;
  if (!address.empty())
    m.info.address = address;
  if (m.info.state == member_state::down || m.info.state == member_state::left)
    m.info.state = member_state::joining;  // until its first heartbeat says otherwise
  m.heard = now;
  m.heard_ms = now_ms;
  return true;
}

void membership::heard(const std::string& name, clock::time_point now, int64_t now_ms) {
  if (auto* m = entry(name)) {
    m->heard = now;
    m->heard_ms = now_ms;
    m->lost = false;
  }
}

membership::heartbeat_news membership::heartbeat(const std::string& name, net::peer_heartbeat hb,
                                                 clock::time_point now) {
  heartbeat_news news;
  auto* m = entry(name);
  if (!m)
    return news;
  m->heartbeat_seen = true;
  news.restarted = m->info.incarnation && hb.self.incarnation != m->info.incarnation;
  if (m->marked_down && hb.self.incarnation != m->marked_incarnation)
    m->marked_down = false;  // back as a new incarnation: joining, handed over anew
  m->their_stamp = hb.stamp;
  if (auto e = hb.echoes.find(self_.name); e != hb.echoes.end()) {
    clock::time_point stamp{milliseconds(e->second)};
    if (stamp <= now && stamp > m->echoed)
      m->echoed = stamp;
  }
  for (auto& [other_name, other] : members_) {  // its findings: votes
    if (other_name == name)
      continue;
    auto f = hb.found_down.find(other_name);
    if (f != hb.found_down.end() && f->second == other.info.incarnation)
      other.down_votes.insert(name);
    else
      other.down_votes.erase(name);
  }
  for (auto& other : hb.members)
    if (other.name == self_.name && other.state == member_state::down &&
        other.incarnation == self_.incarnation && self_.state != member_state::leaving &&
        yields_to(*m, hb.majority, now))
      news.marked_down = true;
  m->info = std::move(hb.self);
  m->load = std::move(hb.load);
  if (news.restarted) {
    m->handed_over = false;
    m->handed_for = 0;
    m->down_votes.clear();  // they were about the old process
    force_handover_.insert(name);
  }
  for (auto& other : hb.members) {  // gossip: learn members we have not met
    if (other.name == self_.name || members_.count(other.name) ||
        other.state == member_state::left || other.address.empty())
      continue;
    auto& fresh = members_[other.name];
    fresh.info = other;
    fresh.info.state = member_state::down;  // until it answers us itself
    fresh.reported_alive = holds_data(other.state);
    fresh.learned = now;
    news.learned.push_back(other);
  }
  return news;
}

void membership::handed_over(const std::string& name) {
  if (auto* m = entry(name))
    m->handed_over = true;
}

void membership::reported_handed(const std::string& name, uint64_t holders_fingerprint) {
  if (auto* m = entry(name))
    m->handed_for = holders_fingerprint;
}

void membership::left(const std::string& name) {
  if (auto* m = entry(name)) {
    m->left = true;
    m->info.state = member_state::left;
  }
}

bool membership::lose(const std::string& name) {
  auto* m = entry(name);
  if (!m || m->lost)
    return false;
  m->lost = true;
  m->echoed = {};  // it hears nothing of us now: its echo no longer counts for the lease
  return true;
}

// Its ranges go to others now: this incarnation may miss what changes.
void membership::mark_down(member& m) {
  m.echoed = {};
  if (m.left || !m.authenticated)
    return;
  m.marked_down = true;
  m.marked_incarnation = m.info.incarnation;
}

void membership::reconnected(const std::string& name) {
  if (auto* m = entry(name))
    m->lost = false;
}

void membership::forgive_silence(clock::time_point now) {
  for (auto& [name, m] : members_)
    if (m.authenticated && !m.lost)
      m.heard = std::max(m.heard, now);
}

std::vector<std::string> membership::detect_down(clock::time_point now) {
  std::vector<std::string> out;
  for (auto& [name, m] : members_)
    if (m.authenticated && !m.lost && !m.left && now - m.heard >= cfg_.down_after) {
      m.lost = true;
      m.echoed = {};
      out.push_back(name);
    }
  return out;
}

// -- reading --------------------------------------------------------------------------

// This member's opinion: its own signals (connection, silence, `leave`)
// override what the member last said of itself.
// A member that owned ranges and falls silent, or that this member alone
// (or too few) found down, is suspect: it keeps its ranges. A joiner stays
// joining (it owned nothing to keep).
member_state membership::state_of(const member& m, clock::time_point now) const {
  if (m.left)
    return member_state::left;
  if (!m.authenticated || m.marked_down)
    return member_state::down;
  auto quiet = owns_ranges(m.info.state) ? member_state::suspect : m.info.state;
  if (finds_down(m, now))
    return majority_finds_down(m, now) ? member_state::down : quiet;
  if (now - m.heard >= cfg_.suspect_after)
    return quiet;
  return m.info.state;
}

bool membership::finds_down(const member& m, clock::time_point now) const {
  return !m.authenticated || m.lost || now - m.heard >= cfg_.down_after;
}

bool membership::majority_finds_down(const member& m, clock::time_point now) const {
  size_t votes = 1;  // this member's own
  for (auto& name : m.down_votes) {
    const member* voter = find(name);
    votes += voter && !voter->left && !finds_down(*voter, now);  // a voter in touch
  }
  return votes * 2 > known_count(now);
}

std::map<std::string, uint64_t> membership::found_down(clock::time_point now) const {
  std::map<std::string, uint64_t> out;
  for (auto& [name, m] : members_)
    if (m.authenticated && !m.left && finds_down(m, now))
      out.emplace(name, m.info.incarnation);
  return out;
}

const membership::member* membership::find(const std::string& name) const {
  auto it = members_.find(name);
  return it == members_.end() ? nullptr : &it->second;
}

membership::member* membership::entry(const std::string& name) {
  auto it = members_.find(name);
  return it == members_.end() ? nullptr : &it->second;
}

bool membership::connected(const std::string& name) const {
  auto* m = find(name);
  return m && m->authenticated && !m->lost;
}

std::vector<std::string> membership::in_touch() const {
  std::vector<std::string> out;
  for (auto& [name, m] : members_)
    if (m.authenticated && !m.lost && !m.left)
      out.push_back(name);
  return out;
}

std::vector<net::member_info> membership::gossip(clock::time_point now) const {
  std::vector<net::member_info> out{self_};
  for (auto& [name, m] : members_) {
    out.push_back(m.info);
    out.back().state = state_of(m, now);
  }
  return out;
}

std::map<std::string, int64_t> membership::echoes() const {
  std::map<std::string, int64_t> out;
  for (auto& [name, m] : members_)
    if (m.authenticated && !m.lost && m.their_stamp)
      out.emplace(name, m.their_stamp);
  return out;
}

std::vector<std::string> membership::addresses_to_dial(clock::time_point now) const {
  std::set<std::string> not_now;  // connected, or left to the peer to dial
  for (auto& [name, m] : members_) {
    bool waits_for_it =
        !dials(m.info.address) && now - std::max(m.heard, m.learned) < cfg_.down_after;
    if ((m.authenticated && !m.lost) || waits_for_it)
      not_now.insert(m.info.address);
  }
  bool seeds_had_their_chance = now - started_ >= 2 * cfg_.reconnect_interval;
  std::vector<std::string> out;
  auto add = [&](const std::string& address) {
    if (!address.empty() && address != self_.address && !not_now.count(address) &&
        std::find(out.begin(), out.end(), address) == out.end())
      out.push_back(address);
  };
  for (auto& seed : cfg_.seeds)
    if (dials(seed) || seeds_had_their_chance)
      add(seed);
  for (auto& [name, m] : members_)
    if (!m.left)
      add(m.info.address);
  return out;
}

size_t membership::reachable_count(clock::time_point now) const {
  size_t n = 1;
  for (auto& [name, m] : members_) {
    auto s = state_of(m, now);
    n += !finds_down(m, now) && (holds_data(s) || s == member_state::leaving);
  }
  return n;
}

size_t membership::known_count(clock::time_point) const {
  size_t n = 1;
  for (auto& [name, m] : members_)
    n += !m.left;  // (state_of's `left`, without asking state_of, which asks this)
  for (auto& seed : cfg_.seeds) {
    bool met = seed == self_.address;
    for (auto& [name, m] : members_)
      met = met || m.info.address == seed;
    n += !met;
  }
  return n;
}

// -- rings ------------------------------------------------------------------------------

std::vector<std::string> membership::ring_members(clock::time_point now, bool with_joiners) const {
  auto in_ring = [with_joiners](member_state s) {
    return with_joiners ? holds_data(s) : owns_ranges(s);
  };
  std::vector<std::string> out;
  if (in_ring(self_.state))
    out.push_back(self_.name);
  for (auto& [name, m] : members_)
    if (in_ring(state_of(m, now)))
      out.push_back(name);
  return out;
}

// Members of `after` that `before` did not have and that are still joining:
// they hear handover_done once the rebalance has sent them their share.
std::vector<std::string> membership::joiners_new_to(const ring& before, const ring& after,
                                                    clock::time_point now) const {
  std::vector<std::string> out;
  for (auto& name : after.members()) {
    auto* m = find(name);
    if (m && before.index_of(name) < 0 && state_of(*m, now) == member_state::joining)
      out.push_back(name);
  }
  return out;
}

membership::ring_change membership::update_rings(clock::time_point now) {
  ring_change change;
  for (auto& [name, m] : members_)
    if (!m.marked_down && m.authenticated && !m.left && finds_down(m, now) &&
        majority_finds_down(m, now)) {
      mark_down(m);
      change.confirmed_down.push_back(name);
    }
  auto owners = std::make_shared<const ring>(ring_members(now, false), cfg_.replicas);
  auto holders = std::make_shared<const ring>(ring_members(now, true), cfg_.replicas);
  change.owners_changed = !owners_ || owners_->members() != owners->members();
  change.holders_changed = !holders_ || holders_->members() != holders->members();
  change.before = holders_;
  if (!force_handover_.empty() && change.before) {
    // A member that restarted while we still counted it as holding data
    // missed changes: hand over to it as if it had just joined.
    std::vector<std::string> kept;
    for (auto& name : change.before->members())
      if (!force_handover_.count(name))
        kept.push_back(name);
    change.before = std::make_shared<const ring>(kept, cfg_.replicas);
    force_handover_.clear();
    change.holders_changed = true;
  }
  if (change.owners_changed)
    owners_ = owners;
  if (change.holders_changed)
    holders_ = holders;
  if (change.owners_changed || change.holders_changed)
    ++epoch_;
  if (change.holders_changed && change.before)
    change.new_joiners = joiners_new_to(*change.before, *holders_, now);
  return change;
}

// -- complete copies -------------------------------------------------------------

uint64_t membership::holders_fingerprint() const {
  uint64_t h = 1469598103934665603ull;  // FNV-1a: the same on every member
  auto mix = [&h](std::string_view bytes) {
    for (unsigned char c : bytes)
      h = (h ^ c) * 1099511628211ull;
  };
  if (holders_)
    for (auto& name : holders_->members()) {
      const member* m = find(name);
      uint64_t inc = name == self_.name ? self_.incarnation : (m ? m->info.incarnation : 0);
      mix(name);
      mix("#" + std::to_string(inc) + ";");
    }
  return h ? h : 1;
}

bool loses_keys(const ring& from, const ring& to) {
  size_t gone = 0;
  for (auto& name : from.members())
    gone += to.index_of(name) < 0;
  return gone > 0 && gone >= from.replicas();
}

// When every other holder reported the current holders, what this member
// holds is complete (membership.hpp). If R members of `intact` are gone,
// some key had all its holders among them: `intact` stays, so those keys
// stay known as lost until a member that held them comes back.
bool membership::settle() {
  if (!holders_ || holders_->empty() || settled_ == holders_)
    return false;
  uint64_t fp = holders_fingerprint();
  for (auto& name : holders_->members()) {
    if (name == self_.name)
      continue;
    const member* m = find(name);
    if (!m || m->handed_for != fp)
      return false;
  }
  if (!intact_ || !loses_keys(*intact_, *holders_))
    intact_ = holders_;
  settled_ = holders_;
  return true;
}

}  // namespace castellan::actors
