// One Castellan node: everything authd runs, behind a small interface so
// that main() stays short and CAF stays out of tools/. Components start in
// dependency order and stop in reverse (see node_tree.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "config/config.hpp"

namespace castellan::actors {

struct node_ports {
  uint16_t client = 0;   // the front door's bound port
  uint16_t monitor = 0;  // the monitor's bound port, 0 if disabled
};

class node {
 public:
  explicit node(config::node_settings settings);
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  // Loads keys and users, spawns the actors, then opens the listener.
  // Throws std::runtime_error (with a message for operators) on failure.
  node_ports start();

  // Applies what can change while running (limiter policies, log level) and
  // logs the keys that only take effect on restart. Publishes config_reloaded.
  void reload(const config::node_settings& fresh);

  // Stops accepting, drains the actors, joins every thread. Idempotent.
  void stop();

  // Called (from an actor thread) if the root supervisor gives up: the node
  // can no longer serve. Set before start().
  void on_failure(std::function<void(const std::string& reason)> handler);

 private:
  node_ports start_all();
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace castellan::actors
