// Users file watcher; see user_directory.hpp and file_stamp.hpp.
#include "actors/directory/user_directory.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "config/file_stamp.hpp"
#include "actors/runtime/atoms.hpp"
#include "config/logging.hpp"

namespace castellan::actors {
using config::file_stamp;
using config::stamp_of;
namespace {

struct directory_state {
  std::string path;
  std::chrono::milliseconds interval{2000};
  users_listener publish;
  file_stamp seen;
  static inline const char* name = "user_directory";
};

void reload_if_changed(directory_state& st) {
  auto now = stamp_of(st.path);
  if (now == st.seen)
    return;
  st.seen = now;
  try {
    auto users = std::make_shared<const config::users_table>(config::load_users(st.path));
    spdlog::info("users file {} reloaded: {} users", st.path, users->by_name.size());
    st.publish(std::move(users));
  } catch (const std::exception& e) {
    spdlog::warn("users file not reloaded, keeping the previous users: {}", e.what());
  }
}

caf::behavior directory_behavior(caf::stateful_actor<directory_state>* self, std::string path,
                                 std::chrono::milliseconds interval, users_listener publish) {
  self->state.path = std::move(path);
  self->state.interval = interval;
  self->state.publish = std::move(publish);
  self->state.seen = stamp_of(self->state.path);  // the node loaded this version at start
  self->delayed_send(self, interval, reload_atom_v);
  return {
    [=](reload_atom) {
      reload_if_changed(self->state);
      self->delayed_send(self, self->state.interval, reload_atom_v);
    },
  };
}

}  // namespace

caf::actor spawn_user_directory(caf::actor_system& sys, std::string path,
                                std::chrono::milliseconds interval, users_listener publish) {
  return sys.spawn<caf::detached>(directory_behavior, std::move(path), interval, std::move(publish));
}

}  // namespace castellan::actors
