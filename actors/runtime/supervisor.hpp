// A supervisor with Erlang/OTP semantics, over CAF actors. A supervisor is
// data (child specs, a strategy, a restart intensity) plus one actor that
// monitors its children and restarts them:
//   one_for_one   restart only the child that died;
//   one_for_all   stop every other child too, then restart all, in order;
//   rest_for_one  stop the children started after it, then restart those.
// More than `intensity` restarts within `period` and the supervisor gives up:
// it stops its children (in reverse start order) and exits with an error, so
// its own supervisor (or authd, for the root) decides what happens next.
// Stopping, for whatever reason, is one child at a time, last started first,
// each awaited (killed after its `shutdown` time): so a child started first,
// like the audit writer, is the last to go.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

namespace castellan::actors {

enum class restart_policy {
  permanent,  // always restarted
  transient,  // restarted only after an abnormal exit
  temporary,  // never restarted
};

enum class supervision_strategy { one_for_one, one_for_all, rest_for_one };

struct child_spec {
  std::string id;                                   // names the child in logs and metrics
  std::function<caf::actor(caf::actor_system&)> start;  // spawns it (and publishes its handle)
  restart_policy restart = restart_policy::permanent;
  std::chrono::milliseconds shutdown{5000};         // then it is killed
};

struct supervisor_spec {
  std::string name;
  supervision_strategy strategy = supervision_strategy::one_for_one;
  uint32_t intensity = 5;                           // at most this many restarts...
  std::chrono::milliseconds period{10000};          // ...in this window
  std::vector<child_spec> children;                 // started in this order
  std::function<void(const std::string& child_id)> on_restart;  // after each restart (metrics)
};

// Checks a spec (named errors, like OTP's check_childspec): names set and
// unique, start functions present, intensity and period positive.
// Returns "" when valid, else what is wrong.
std::string check_spec(const supervisor_spec& spec);

// Spawns the supervisor, which starts its children at once, in order.
// Throws std::invalid_argument for a spec check_spec() refuses.
caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec);

}  // namespace castellan::actors
