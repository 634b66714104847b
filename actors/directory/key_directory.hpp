// The key directory: a detached actor (file I/O off the scheduler) that
// watches the token key file. When an operator rotates keys, or a retiring
// key's grace period ends, it publishes the ring now in force; the node
// hands it to the front door and the router and records key_rotated /
// key_retired events. A key file that fails to load is logged and ignored:
// the ring in force stays.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "net/token.hpp"

namespace castellan::actors {

// Called with the ring now in force and the one it replaces.
using keys_listener = std::function<void(std::shared_ptr<const net::keyring> now,
                                         std::shared_ptr<const net::keyring> before)>;

caf::actor spawn_key_directory(caf::actor_system& sys, std::string path,
                               std::chrono::milliseconds interval,
                               std::shared_ptr<const net::keyring> in_force, keys_listener publish);

}  // namespace castellan::actors
