// Users file watcher; see user_directory.hpp. Polling mtime+size every couple
// of seconds is cheap and works on every filesystem, unlike inotify on
// network mounts, which is how directories of users are often provisioned.
#include "actors/user_directory.hpp"

#include <sys/stat.h>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/caf_types.hpp"

namespace castellan::actors {
namespace {

struct file_stamp {
  int64_t mtime_ns = -1;
  int64_t size = -1;
  bool operator==(const file_stamp&) const = default;
};

file_stamp stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return {};
  return {int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec, int64_t{st.st_size}};
}

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
