// The nemesis checker; see checker.hpp. One pass builds what each token went
// through (login, the first end invoked, the first end acknowledged), a second
// judges every operation against it and against the fault intervals.
#include "tests/nemesis/checker.hpp"

#include <algorithm>
#include <limits>
#include <sstream>
#include <unordered_map>

namespace castellan::nemesis {
namespace {

constexpr micros never = std::numeric_limits<micros>::max();

struct token_life {
  const operation* login = nullptr;
  micros end_invoked = never;  // the first logout/revoke that may have ended it was invoked
  micros end_acked = never;    // the first that certainly ended it was acknowledged
  const operation* ender = nullptr;
};

// Does this failed end request leave the session certainly untouched?
// (`invalid_token`, `expired`, `forbidden`, `malformed`: refused before
// anything changed; `unavailable` may have ended it in a cluster.)
bool certainly_no_effect(const operation& op) {
  return op.result == outcome::failed && op.code != "unavailable";
}

std::string ms(micros t) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(3);
  s << double(t) / 1e6 << "s";
  return s.str();
}

std::string member_name(int m) { return "node-" + std::string(1, char('a' + m)); }

std::string short_token(const std::string& t) { return t.size() > 10 ? t.substr(t.size() - 10) : t; }

std::string describe(const operation& op) {
  std::string s = "#" + std::to_string(op.index) + " w" + std::to_string(op.worker) + " " + name_of(op.type) +
                  " on " + member_name(op.member) + " [" + ms(op.invoked) + " .. " + ms(op.completed) + "] -> " +
                  name_of(op.result);
  if (!op.code.empty())
    s += " " + op.code;
  if (!op.token.empty())
    s += " token ..." + short_token(op.token);
  return s;
}

class judge {
 public:
  judge(const history& h, const checker_config& cfg) : h_(h), cfg_(cfg) {}

  report run(const std::vector<audit_result>& audits) {
    for (char r : {'a', 'b', 'c', 'd', 'e'}) {
      out_.per_rule[r] = 0;
      out_.judged[r] = 0;
    }
    out_.operations = h_.ops.size();
    out_.faults = h_.faults.size();
    build_lives();
    for (auto& op : h_.ops) {
      judge_reply_bound(op);
      if (op.type == op_type::validate_owner)
        judge_owner_read(op);
      else if (op.type == op_type::validate_local)
        judge_local_read(op);
    }
    for (auto& a : audits) {
      ++out_.judged['e'];
      if (a.exit_code != 0)
        add('e', "audit verify failed", 0,
            member_name(a.member) + ": exit " + std::to_string(a.exit_code) + ": " + a.output);
    }
    return std::move(out_);
  }

 private:
  void build_lives() {
    std::unordered_map<std::string, std::vector<token_life*>> by_user;
    for (auto& op : h_.ops)
      if (op.type == op_type::login && op.result == outcome::ok && !op.token.empty()) {
        auto& life = lives_[op.token];
        life.login = &op;
      }
    for (auto& [token, life] : lives_)
      by_user[life.login->user].push_back(&life);
    for (auto& op : h_.ops) {
      if (op.type == op_type::logout) {
        auto it = lives_.find(op.token);
        if (it != lives_.end())
          note_end(it->second, op, op.result == outcome::ok);
      } else if (op.type == op_type::revoke_user) {
        for (auto* life : by_user[op.user]) {
          // A revoke ends the sessions opened before it began; one whose
          // login overlapped it may or may not have been ended.
          bool certain = op.result == outcome::ok && op.invoked > life->login->completed;
          micros done = op.result == outcome::ok || op.result == outcome::failed ? op.completed : never;
          if (done > life->login->invoked)
            note_end(*life, op, certain);
        }
      }
    }
  }

  void note_end(token_life& life, const operation& op, bool acked) {
    if (certainly_no_effect(op))
      return;
    life.end_invoked = std::min(life.end_invoked, op.invoked);
    if (acked && op.completed < life.end_acked) {
      life.end_acked = op.completed;
      life.ender = &op;
    }
  }

  // -- fault intervals --------------------------------------------------------

  static micros settled_end(const fault& f) { return std::max(f.healed, f.settled); }

  bool overlaps(micros a0, micros a1, micros b0, micros b1) const { return a0 <= b1 && b0 <= a1; }

  // Some fault (of any kind) was in effect, or had not settled, during [t0, t1].
  bool in_fault_window(micros t0, micros t1) const {
    for (auto& f : h_.faults)
      if (overlaps(t0, t1, f.started, settled_end(f) + cfg_.settle_grace))
        return true;
    return false;
  }

  // A partition was in effect during [t0, t1], or ended less than the
  // detection bound before it.
  bool in_partition_window(micros t0, micros t1) const {
    for (auto& f : h_.faults)
      if (!f.stops_processes() && overlaps(t0, t1, f.started, f.healed + cfg_.detection_bound))
        return true;
    return false;
  }

  // Member m was killed, stopped or frozen during [t0, t1].
  bool member_faulted(int m, micros t0, micros t1) const {
    for (auto& f : h_.faults)
      if (f.stops_processes() && f.victim(m) && overlaps(t0, t1, f.started, f.healed + cfg_.member_fault_grace))
        return true;
    return false;
  }

  // Where a read fell relative to the faults, for the report: "during X"
  // (injected, not yet healed), "settling after X" (healed, not yet settled
  // plus the grace), or "no fault".
  std::string phase(micros t) const {
    for (auto& f : h_.faults)
      if (f.started <= t && t <= f.healed)
        return std::string("during ") + name_of(f.kind);
    for (auto& f : h_.faults)
      if (f.healed < t && t <= settled_end(f) + cfg_.settle_grace)
        return std::string("settling after ") + name_of(f.kind);
    return "no fault";
  }

  // Every holder in `holders` was dead or frozen at some moment of [t0, t1].
  bool holders_down(uint32_t holders, micros t0, micros t1) const {
    if (holders == 0)
      return false;
    for (micros t : {t0, t1}) {
      uint32_t down = 0;
      for (auto& f : h_.faults)
        if (f.stops_processes() && f.started <= t && t <= f.healed)
          down |= f.members;
      if ((down & holders) == holders)
        return true;
    }
    return false;
  }

  // -- the rules --------------------------------------------------------------

  // The read sees a session that is certainly live for all of it: invoked
  // after the login was acknowledged, done before any end was invoked and
  // before the expiry.
  bool certainly_live(const token_life& life, const operation& op) const {
    return op.invoked > life.login->completed && op.completed < life.end_invoked &&
           op.completed < life.login->expires_at_run_ms * 1000 - cfg_.expiry_margin;
  }

  void judge_owner_read(const operation& op) {
    auto it = lives_.find(op.token);
    if (it == lives_.end() || op.result == outcome::pending)
      return;
    auto& life = it->second;
    if (op.invoked > life.end_acked) {
      ++out_.judged['a'];
      if (op.result == outcome::ok)
        add('a', "ok after an acknowledged end [" + phase(op.invoked) + "]", op,
            describe(op) + "; ended by " + describe(*life.ender));
      return;
    }
    if (!certainly_live(life, op))
      return;
    ++out_.judged['b'];
    if (op.result != outcome::failed)
      return;
    bool r_down = holders_down(life.login->holders, op.invoked, op.completed);
    if (op.code == "invalid_token" || op.code == "expired") {
      add('b', std::string(op.code) + " for a live session" + (r_down ? " (R holders down)" : "") + " [" +
                   phase(op.invoked) + "]", op,
          describe(op) + "; login " + describe(*life.login));
    } else if (op.code == "unavailable") {
      if (!r_down && !in_fault_window(op.invoked, op.completed))
        add('b', "unavailable with no fault in effect", op, describe(op));
    } else {
      add('b', "unexpected code " + op.code, op, describe(op));
    }
  }

  void judge_local_read(const operation& op) {
    auto it = lives_.find(op.token);
    if (it == lives_.end() || op.result == outcome::pending)
      return;
    auto& life = it->second;
    // docs/cluster.md, "Reads: consistency": a holder has every acknowledged
    // write; only during a partition (plus the detection bound) may a local
    // read miss an end. It never denies a live session: a member that may
    // have missed writes (its lease lapsed) says `unavailable` instead.
    bool partition = in_partition_window(op.invoked, op.completed);
    if (op.invoked > life.end_acked) {
      ++out_.judged['c'];
      if (op.result == outcome::ok && !partition)
        add('c', "stale ok after an acknowledged end, no partition [" + phase(op.invoked) + "]", op,
            describe(op) + "; ended by " + describe(*life.ender));
      return;
    }
    if (!certainly_live(life, op))
      return;
    ++out_.judged['c'];
    if (op.result != outcome::failed)
      return;
    if (op.code == "invalid_token" || op.code == "expired") {
      add('c', op.code + " for a live session [" + phase(op.invoked) + "]", op,
          describe(op) + "; login " + describe(*life.login));
    } else if (op.code == "unavailable") {
      if (!holders_down(life.login->holders, op.invoked, op.completed) &&
          !in_fault_window(op.invoked, op.completed))
        add('c', "unavailable with no fault in effect", op, describe(op));
    } else {
      add('c', "unexpected code " + op.code, op, describe(op));
    }
  }

  void judge_reply_bound(const operation& op) {
    ++out_.judged['d'];
    micros end = op.result == outcome::pending ? op.invoked + cfg_.reply_bound : op.completed;
    bool late = op.result == outcome::no_answer || op.result == outcome::pending ||
                end - op.invoked > cfg_.reply_bound;
    bool lost = op.result == outcome::lost;
    if (!late && !lost)
      return;
    if (member_faulted(op.member, op.invoked, end))
      return;  // sent to a member that was dead or frozen meanwhile
    add('d', late ? "no reply within the bound" : "connection lost, no fault on its member", op,
        describe(op));
  }

  void add(char rule, const std::string& kind, const operation& op, const std::string& detail) {
    add(rule, kind, op.index, detail);
  }
  void add(char rule, const std::string& kind, uint64_t op, const std::string& detail) {
    out_.violations.push_back({rule, kind, op, detail});
    ++out_.per_rule[rule];
    ++out_.per_kind[std::string(1, rule) + ": " + kind];
  }

  const history& h_;
  const checker_config& cfg_;
  std::unordered_map<std::string, token_life> lives_;
  report out_;
};

}  // namespace

size_t report::count(char rule) const {
  auto it = per_rule.find(rule);
  return it == per_rule.end() ? 0 : it->second;
}

std::string report::summary(size_t examples) const {
  std::ostringstream s;
  s << operations << " operations, " << faults << " faults; violations per rule:";
  for (auto& [rule, n] : per_rule)
    s << " (" << rule << ") " << n << "/" << judged.at(rule);
  s << "\n";
  for (auto& [kind, n] : per_kind) {
    s << "  " << kind << ": " << n << "\n";
    size_t shown = 0;
    for (auto& v : violations)
      if (std::string(1, v.rule) + ": " + v.kind == kind && shown++ < examples)
        s << "    e.g. " << v.detail << "\n";
  }
  return s.str();
}

report check(const history& h, const std::vector<audit_result>& audits, const checker_config& cfg) {
  return judge(h, cfg).run(audits);
}

}  // namespace castellan::nemesis
