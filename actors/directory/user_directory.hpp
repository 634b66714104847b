// The user directory: a detached actor (its own thread, so file I/O never
// blocks the scheduler) that re-reads the users file when its mtime or size
// changes and publishes the new immutable snapshot. A file that fails to parse
// is logged and ignored: the last good snapshot stays in force.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "config/users_file.hpp"

namespace castellan::actors {

using users_listener = std::function<void(std::shared_ptr<const config::users_table>)>;

// Polls `path` every `interval`; calls `publish` (on the directory's thread)
// after each successful reload.
caf::actor spawn_user_directory(caf::actor_system& sys, std::string path,
                                std::chrono::milliseconds interval, users_listener publish);

}  // namespace castellan::actors
