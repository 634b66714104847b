// Key file watcher; see key_directory.hpp.
#include "actors/directory/key_directory.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "config/file_stamp.hpp"
#include "actors/runtime/atoms.hpp"
#include "config/logging.hpp"
#include "net/key_file.hpp"
#include "net/wall_clock.hpp"

namespace castellan::actors {
using config::file_stamp;
using config::stamp_of;

using net::wall_ms;
namespace {

struct key_directory_state {
  std::string path;
  std::chrono::milliseconds interval{1000};
  keys_listener publish;
  file_stamp seen;
  std::shared_ptr<const net::keyring> file;       // as last read
  std::shared_ptr<const net::keyring> in_force;   // as last published
  static inline const char* name = "key_directory";
};

bool same_keys(const net::keyring& a, const net::keyring& b) {
  if (a.primary_id() != b.primary_id() || a.keys().size() != b.keys().size())
    return false;
  for (size_t i = 0; i < a.keys().size(); ++i)
    if (a.keys()[i].id != b.keys()[i].id)
      return false;
  return true;
}

// Re-reads the file if it changed, then works out what is in force now:
// a rotation shows at once, a retirement when its time comes.
void refresh(key_directory_state& st) {
  auto stamp = stamp_of(st.path);
  if (!(stamp == st.seen)) {
    st.seen = stamp;
    try {
      st.file = std::make_shared<const net::keyring>(net::load_key_file(st.path));
    } catch (const std::exception& e) {
      spdlog::warn("key file not reloaded, keeping the keys in force: {}", e.what());
    }
  }
  auto now = std::make_shared<const net::keyring>(st.file->in_force(wall_ms()));
  if (same_keys(*now, *st.in_force))
    return;
  auto before = std::move(st.in_force);
  st.in_force = now;
  st.publish(std::move(now), std::move(before));
}

caf::behavior key_directory_behavior(caf::stateful_actor<key_directory_state>* self, std::string path,
                                     std::chrono::milliseconds interval,
                                     std::shared_ptr<const net::keyring> in_force,
                                     keys_listener publish) {
  auto& st = self->state;
  st.path = std::move(path);
  st.interval = interval;
  st.publish = std::move(publish);
  st.seen = stamp_of(st.path);  // the node loaded this version at start
  st.file = in_force;
  st.in_force = std::move(in_force);
  self->delayed_send(self, interval, reload_atom_v);
  return {
    [=](reload_atom) {
      refresh(self->state);
      self->delayed_send(self, self->state.interval, reload_atom_v);
    },
  };
}

}  // namespace

caf::actor spawn_key_directory(caf::actor_system& sys, std::string path,
                               std::chrono::milliseconds interval,
                               std::shared_ptr<const net::keyring> in_force, keys_listener publish) {
  return sys.spawn<caf::detached>(key_directory_behavior, std::move(path), interval,
                                  std::move(in_force), std::move(publish));
}

}  // namespace castellan::actors
