// The operators' HTTP endpoint: a small Boost.Beast server on its own thread
// (so a slow scraper never touches the client path). It knows nothing about
// what it serves: the node gives it one handler from path to response.
// prometheus-cpp's own Exposer cannot serve /health or /cluster next to
// /metrics, which is why this exists (docs/metrics.md).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace castellan::monitor {

struct http_response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Called on the endpoint's thread for each GET; must not block for long.
using http_handler = std::function<http_response(const std::string& path)>;

class http_endpoint {
 public:
  http_endpoint(std::string host, uint16_t port, http_handler handler);
  ~http_endpoint();
  http_endpoint(const http_endpoint&) = delete;
  http_endpoint& operator=(const http_endpoint&) = delete;

  // Binds and starts serving; returns the bound port. Throws std::system_error.
  uint16_t start();
  // Stops at once (open scrapes are cut). Idempotent.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace castellan::monitor
