// The supervisor actor; see supervisor.hpp. The restart window is a list of
// monotonic timestamps (OTP's add_restart): a restart is allowed while fewer
// than `intensity` restarts happened within the last `period`.
#include "actors/runtime/supervisor.hpp"

#include <deque>
#include <set>
#include <stdexcept>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/runtime/atoms.hpp"
#include "config/logging.hpp"

namespace castellan::actors {
namespace {

using clock_type = std::chrono::steady_clock;

struct supervisor_state {
  supervisor_spec spec;
  std::vector<caf::actor> children;  // by spec index; null when not running
  std::deque<clock_type::time_point> restarts;
  bool stopping = false;
  caf::error stop_reason;            // what the supervisor exits with once its children are gone
  size_t awaiting = 0;               // while stopping: the child being stopped
  uint64_t stop_generation = 0;      // tells a stale stop timeout from the current one
  static inline const char* name = "supervisor";
};

using self_ptr = caf::stateful_actor<supervisor_state>*;

void start_child(self_ptr self, size_t i) {
  auto& st = self->state;
  auto child = st.spec.children[i].start(self->home_system());
  self->monitor(child);
  st.children[i] = std::move(child);
}

// Stops children [from, end) in reverse start order, without restarting them.
void stop_children(self_ptr self, size_t from, const caf::error& reason) {
  auto& st = self->state;
  for (size_t i = st.children.size(); i-- > from;) {
    if (!st.children[i])
      continue;
    self->demonitor(st.children[i]);
    self->send_exit(st.children[i], reason);
    st.children[i] = nullptr;
  }
}

// Stops the last running child and waits for it (its down_msg calls this
// again); quits once none is left.
void stop_next(self_ptr self) {
  auto& st = self->state;
  size_t i = st.children.size();
  while (i > 0 && !st.children[i - 1])
    --i;
  if (i == 0) {
    self->quit(st.stop_reason);
    return;
  }
  st.awaiting = i - 1;
  self->send_exit(st.children[i - 1], caf::exit_reason::user_shutdown);
  self->delayed_send(self, st.spec.children[i - 1].shutdown, stop_timeout_atom_v,
                     ++st.stop_generation);
}

void begin_shutdown(self_ptr self, caf::error reason) {
  auto& st = self->state;
  if (st.stopping)
    return;
  st.stopping = true;
  st.stop_reason = std::move(reason);
  stop_next(self);
}

bool should_restart(restart_policy policy, const caf::error& reason) {
  switch (policy) {
    case restart_policy::permanent: return true;
    case restart_policy::temporary: return false;
    case restart_policy::transient:
      return reason && reason != caf::exit_reason::normal && reason != caf::exit_reason::user_shutdown;
  }
  return false;
}

// True if one more restart stays within the intensity.
bool within_intensity(supervisor_state& st) {
  auto now = clock_type::now();
  while (!st.restarts.empty() && now - st.restarts.front() > st.spec.period)
    st.restarts.pop_front();
  st.restarts.push_back(now);
  return st.restarts.size() <= st.spec.intensity;
}

void on_child_down(self_ptr self, caf::down_msg& msg) {
  auto& st = self->state;
  size_t i = 0;
  while (i < st.children.size() && st.children[i].address() != msg.source)
    ++i;
  if (i == st.children.size())
    return;  // not ours any more (replaced)
  st.children[i] = nullptr;
  if (st.stopping) {
    if (i == st.awaiting)
      stop_next(self);
    return;
  }
  auto& child = st.spec.children[i];
  if (!should_restart(child.restart, msg.reason))
    return;
  if (!within_intensity(st)) {
    spdlog::critical("supervisor {}: child {} died ({}); more than {} restarts in {} ms, giving up",
                     st.spec.name, child.id, caf::to_string(msg.reason), st.spec.intensity,
                     st.spec.period.count());
    begin_shutdown(self, caf::make_error(caf::sec::runtime_error,
                                         "supervisor " + st.spec.name +
                                             ": restart intensity exceeded by " + child.id));
    return;
  }
  spdlog::warn("supervisor {}: child {} died ({}), restarting ({})", st.spec.name, child.id,
               caf::to_string(msg.reason),
               st.spec.strategy == supervision_strategy::one_for_one
                   ? "one_for_one"
                   : st.spec.strategy == supervision_strategy::one_for_all ? "one_for_all"
                                                                           : "rest_for_one");
  size_t first = i, last = i + 1;
  if (st.spec.strategy == supervision_strategy::one_for_all) {
    stop_children(self, 0, caf::exit_reason::user_shutdown);
    first = 0;
    last = st.children.size();
  } else if (st.spec.strategy == supervision_strategy::rest_for_one) {
    stop_children(self, i + 1, caf::exit_reason::user_shutdown);
    last = st.children.size();
  }
  for (size_t k = first; k < last; ++k)
    if (should_restart(st.spec.children[k].restart, caf::exit_reason::unknown) || k == i) {
      start_child(self, k);
      if (st.spec.on_restart)
        st.spec.on_restart(st.spec.children[k].id);
    }
}

caf::behavior supervisor_behavior(self_ptr self, supervisor_spec spec) {
  auto& st = self->state;
  st.spec = std::move(spec);
  st.children.resize(st.spec.children.size());
  for (size_t i = 0; i < st.children.size(); ++i)
    start_child(self, i);
  self->set_down_handler([self](caf::down_msg& msg) { on_child_down(self, msg); });
  // Told to stop (by its parent or the node): children go first, in reverse.
  self->set_exit_handler([self](caf::exit_msg& msg) { begin_shutdown(self, msg.reason); });
  return {
    // A child that did not stop within its shutdown time is killed.
    [self](stop_timeout_atom, uint64_t generation) {
      auto& st = self->state;
      if (st.stopping && generation == st.stop_generation && st.children[st.awaiting])
        self->send_exit(st.children[st.awaiting], caf::exit_reason::kill);
    },
  };
}

}  // namespace

std::string check_spec(const supervisor_spec& spec) {
  if (spec.name.empty())
    return "supervisor without a name";
  if (spec.intensity == 0 || spec.period.count() <= 0)
    return "supervisor " + spec.name + ": intensity and period must be positive";
  std::set<std::string> ids;
  for (auto& c : spec.children) {
    if (c.id.empty())
      return "supervisor " + spec.name + ": a child without an id";
    if (!c.start)
      return "supervisor " + spec.name + ": child " + c.id + " has no start function";
    if (!ids.insert(c.id).second)
      return "supervisor " + spec.name + ": duplicate child id " + c.id;
  }
  return "";
}

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec) {
  if (auto why = check_spec(spec); !why.empty())
    throw std::invalid_argument(why);
  return sys.spawn(supervisor_behavior, std::move(spec));
}

}  // namespace castellan::actors
