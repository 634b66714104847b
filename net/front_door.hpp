// The front door: the client-facing TCP listener. It frames and parses
// requests, answers ping and refuses bad frames and forged tokens itself, and
// hands the rest to the backend one batch per socket read. Asio stays behind
// this header (pimpl) so including it is cheap.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "net/backend.hpp"
#include "net/token.hpp"

namespace castellan::monitor {
struct front_door_metrics;
}

namespace castellan::net {

class front_door {
 public:
  // `backend`, `metrics` (may be null) must outlive this object.
  front_door(const config::server_config& cfg, std::string node_name,
             std::shared_ptr<const keyring> keys, request_backend& backend,
             monitor::front_door_metrics* metrics);
  ~front_door();
  front_door(const front_door&) = delete;
  front_door& operator=(const front_door&) = delete;

  // Binds and starts the I/O threads. Returns the bound port (useful with port 0).
  // Throws std::system_error if the address cannot be bound.
  uint16_t start();

  // Stops accepting and stops the I/O threads; connections close. Replies the
  // backend delivers afterwards are dropped safely. Idempotent.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace castellan::net
