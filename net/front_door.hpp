// The front door: the client-facing TCP listener. It frames and parses
// requests, answers ping and refuses bad frames and forged tokens itself, and
// hands the rest to the backend one batch per socket read. Asio stays behind
// this header (pimpl) so including it is cheap.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "net/backend.hpp"
#include "net/request_stats.hpp"
#include "net/token.hpp"
#include "net/front_door_metrics.hpp"

namespace castellan::net {

class front_door {
 public:
  // `backend`, `metrics` and `stats` (either may be null) must outlive this object.
  front_door(const config::server_config& cfg, std::string node_name,
             std::shared_ptr<const keyring> keys, request_backend& backend,
             net::front_door_metrics* metrics, request_stats* stats);
  ~front_door();
  front_door(const front_door&) = delete;
  front_door& operator=(const front_door&) = delete;

  // Binds and starts the I/O threads. Returns the bound port (useful with port 0).
  // Throws std::system_error if the address cannot be bound, tls_error
  // (net/tls_server.hpp, a std::runtime_error) if [server.tls] names files
  // that cannot be loaded.
  uint16_t start();

  // Re-reads [server.tls]'s files (SIGHUP; the front door also polls them
  // every server.tls.reload_interval_ms). Connections accepted afterwards use
  // them; open ones keep theirs. A file that does not load changes nothing:
  // returns false and logs why. Any thread.
  bool reload_tls();

  // Stops accepting, then drains every connection (docs/protocol.md, section
  // 6): each is told the node is stopping, answers every request it read
  // (refusing those read after the notice) and closes in order; waits for
  // that up to server.drain_timeout_ms (plus linger_bound), then stops the
  // I/O threads. Replies the backend delivers afterwards are dropped safely.
  // Idempotent.
  void stop();

  // How a failing I/O thread is handled, OTP-style: a handler that throws is
  // logged, the thread goes on, and the listener is re-opened on the same
  // port (connections already open keep going). More than `max_restarts`
  // within `period` means something is badly wrong: `on_give_up` runs (the
  // node exits non-zero). Set before start().
  struct supervision {
    uint32_t max_restarts = 10;
    std::chrono::milliseconds period{10000};
    std::function<void()> on_restart;                     // e.g. count it
    std::function<void(const std::string& why)> on_give_up;
  };
  void supervise(supervision s);

  // New token keys (the key file changed): reads after this use `keys`.
  void set_keys(std::shared_ptr<const keyring> keys);

  // Fault injection: the listener's thread throws from its next handler.
  void crash_listener();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace castellan::net
