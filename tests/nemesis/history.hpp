// The history of a nemesis run, Jepsen's way: every client operation is an
// invoke (what, against which member, when) and a completion (ok, failed with
// a code, no answer within the bound, or the connection lost), each stamped
// with microseconds since the run began; every fault the nemesis injects is an
// interval. The checker reads nothing else, so a history can be written by
// hand (tests/nemesis/checker_test.cpp) as well as recorded.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace castellan::nemesis {

enum class op_type { login, validate_owner, validate_local, refresh, logout, revoke_user };
const char* name_of(op_type t);

enum class outcome {
  ok,
  failed,     // a reply with an error code (`code`)
  no_answer,  // no reply within the client's reply bound
  lost,       // connection refused, closed or broken before a reply: outcome unknown
  pending,    // invoked, not completed (only while recording)
};
const char* name_of(outcome o);

using micros = int64_t;  // since the run began (steady clock)

struct operation {
  uint64_t index = 0;   // position in the history
  int worker = 0;
  int member = 0;       // the member the request was sent to
  op_type type = op_type::validate_owner;
  std::string user;     // login, revoke_user: the user; others: the token's user
  std::string token;    // validate/refresh/logout: the token; login: the token it got
  micros invoked = 0;
  micros completed = 0; // when the reply (or the give-up) came
  outcome result = outcome::pending;
  std::string code;     // the error code when failed
  int64_t expires_at_run_ms = 0;  // login/refresh ok: the expiry, in run time (ms)
  uint32_t holders = 0;           // login ok: bitmask of the members holding the session (every member up)
};

enum class fault_kind { kill9, sigstop, sigterm, partition_symmetric, partition_one_way, kill_r };
const char* name_of(fault_kind k);

// One injected fault. For kill9/sigstop/sigterm/kill_r, `members` are the
// victims; for partitions, traffic from `from` to `to` is dropped (and back,
// when symmetric). `healed`: restarted / SIGCONT / rules removed;
// `settled`: every member saw every member up again (or the wait gave up).
struct fault {
  fault_kind kind = fault_kind::kill9;
  uint32_t members = 0;  // bitmask of victims (partition: from|to)
  int from = -1, to = -1;
  micros started = 0;
  micros healed = 0;
  micros settled = 0;
  std::string describe() const;
  bool victim(int member) const { return (members >> member) & 1u; }
  // Processes dead or frozen (not partitions).
  bool stops_processes() const {
    return kind != fault_kind::partition_symmetric && kind != fault_kind::partition_one_way;
  }
};

struct history {
  std::vector<operation> ops;
  std::vector<fault> faults;
  int members = 3;
  int replicas = 2;
};

// Thread-safe recording during a run: invoke() returns a slot that
// complete() fills in.
class recorder {
 public:
  recorder();
  micros now() const;
  int64_t wall_ms_at_start() const { return wall0_ms_; }
  size_t invoke(int worker, int member, op_type type, const std::string& user, const std::string& token);
  void complete(size_t slot, outcome result, const std::string& code = "", const std::string& token = "",
                int64_t expires_at_wall_ms = 0, uint32_t holders = 0);
  void add_fault(const fault& f);
  history take();

 private:
  int64_t start_ns_ = 0;
  int64_t wall0_ms_ = 0;
  std::mutex mutex_;
  history h_;
};

}  // namespace castellan::nemesis
