// The supervisor actor; see supervisor.hpp. The restart window is a list of
// monotonic timestamps (OTP's add_restart): a restart is allowed while fewer
// than `intensity` restarts happened within the last `period`.
#include "actors/supervisor.hpp"

#include <deque>
#include <set>
#include <stdexcept>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <spdlog/spdlog.h>

namespace castellan::actors {
namespace {

using clock_type = std::chrono::steady_clock;

struct supervisor_state {
  supervisor_spec spec;
  std::vector<caf::actor> children;  // by spec index; null when not running
  std::deque<clock_type::time_point> restarts;
  bool stopping = false;
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
  if (st.stopping || i == st.children.size())
    return;  // not ours any more (replaced, or being stopped)
  auto& child = st.spec.children[i];
  st.children[i] = nullptr;
  if (!should_restart(child.restart, msg.reason))
    return;
  if (!within_intensity(st)) {
    spdlog::critical("supervisor {}: child {} died ({}); more than {} restarts in {} ms, giving up",
                     st.spec.name, child.id, caf::to_string(msg.reason), st.spec.intensity,
                     st.spec.period.count());
    st.stopping = true;
    stop_children(self, 0, caf::exit_reason::user_shutdown);
    self->quit(caf::make_error(caf::sec::runtime_error,
                               "supervisor " + st.spec.name + ": restart intensity exceeded by " +
                                   child.id));
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
  self->set_exit_handler([self](caf::exit_msg& msg) {
    self->state.stopping = true;
    stop_children(self, 0, msg.reason);
    self->quit(msg.reason);
  });
  return {
    [](caf::unit_t) {},  // a supervisor has no requests of its own
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
