// The recorded history; see history.hpp.
#include "tests/nemesis/history.hpp"

#include <chrono>

namespace castellan::nemesis {

const char* name_of(op_type t) {
  switch (t) {
    case op_type::login: return "login";
    case op_type::validate_owner: return "validate(owner)";
    case op_type::validate_local: return "validate(local)";
    case op_type::refresh: return "refresh";
    case op_type::logout: return "logout";
    case op_type::revoke_user: return "revoke_user";
  }
  return "?";
}

const char* name_of(outcome o) {
  switch (o) {
    case outcome::ok: return "ok";
    case outcome::failed: return "failed";
    case outcome::no_answer: return "no_answer";
    case outcome::lost: return "lost";
    case outcome::pending: return "pending";
  }
  return "?";
}

const char* name_of(fault_kind k) {
  switch (k) {
    case fault_kind::kill9: return "kill-9";
    case fault_kind::sigstop: return "sigstop";
    case fault_kind::sigterm: return "sigterm";
    case fault_kind::partition_symmetric: return "partition";
    case fault_kind::partition_one_way: return "one-way-partition";
    case fault_kind::kill_r: return "kill-9-R";
  }
  return "?";
}

std::string fault::describe() const {
  std::string s = name_of(kind);
  if (!stops_processes()) {
    s += " " + std::string(1, char('a' + from)) + (kind == fault_kind::partition_symmetric ? "<->" : "->") +
         std::string(1, char('a' + to));
  } else {
    s += " ";
    for (int i = 0; i < 32; ++i)
      if (victim(i))
        s += char('a' + i);
  }
  s += " @" + std::to_string(started / 1000) + "ms healed+" + std::to_string((healed - started) / 1000) +
       "ms settled+" + std::to_string((settled - started) / 1000) + "ms";
  return s;
}

recorder::recorder() {
  using namespace std::chrono;
  start_ns_ = duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
  wall0_ms_ = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

micros recorder::now() const {
  using namespace std::chrono;
  return (duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count() - start_ns_) / 1000;
}

size_t recorder::invoke(int worker, int member, op_type type, const std::string& user,
                        const std::string& token) {
  operation op;
  op.worker = worker;
  op.member = member;
  op.type = type;
  op.user = user;
  op.token = token;
  op.invoked = now();
  std::lock_guard lock(mutex_);
  op.index = h_.ops.size();
  h_.ops.push_back(std::move(op));
  return h_.ops.size() - 1;
}

void recorder::complete(size_t slot, outcome result, const std::string& code, const std::string& token,
                        int64_t expires_at_wall_ms, uint32_t holders) {
  auto t = now();
  std::lock_guard lock(mutex_);
  auto& op = h_.ops.at(slot);
  op.completed = t;
  op.result = result;
  op.code = code;
  if (!token.empty())
    op.token = token;
  if (expires_at_wall_ms != 0)
    op.expires_at_run_ms = expires_at_wall_ms - wall0_ms_;
  op.holders = holders;
}

void recorder::add_fault(const fault& f) {
  std::lock_guard lock(mutex_);
  h_.faults.push_back(f);
}

history recorder::take() {
  std::lock_guard lock(mutex_);
  return std::move(h_);
}

}  // namespace castellan::nemesis
