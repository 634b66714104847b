// One client connection of the front door. All of its state is touched only
// on its own io_context thread; deliver() is the one entry point for other
// threads and posts onto that thread. Internal to net/ (includes Asio).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "config/config.hpp"
#include "net/backend.hpp"

namespace castellan::monitor {
struct front_door_metrics;
}

namespace castellan::net {

// What every connection of one front door shares (read-only, or atomic).
struct connection_context {
  config::server_config cfg;
  std::string node_name;
  std::shared_ptr<const keyring> keys;
  request_backend* backend = nullptr;
  monitor::front_door_metrics* metrics = nullptr;
  std::atomic<uint32_t> open_connections{0};
};

class connection final : public reply_sink, public std::enable_shared_from_this<connection> {
 public:
  connection(boost::asio::ip::tcp::socket socket, connection_context& ctx);
  ~connection() override;

  void start();

  // reply_sink: any thread.
  void deliver(std::string&& frames, size_t count) override;

 private:
  void read_more();
  void on_read(const boost::system::error_code& ec, size_t n);
  void process_input();
  bool handle_frame(std::string_view body, std::vector<session_op>& ops);
  void dispatch(const request_view& r, std::vector<session_op>& ops);
  void on_delivered(std::string&& frames, size_t count);
  void flush();
  void on_write(const boost::system::error_code& ec);
  void arm_idle_timer();
  void close_after_flush();
  void close_now();
  bool may_read() const;

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer idle_timer_;
  connection_context& ctx_;
  std::vector<char> in_;        // bytes read, not yet framed: [0, in_used_)
  size_t in_used_ = 0;
  reply_buffer pending_;        // replies ready, not yet handed to the socket
  std::string writing_;         // bytes of the write in flight
  size_t inflight_ = 0;         // requests handed to the backend, not yet answered
  bool reading_ = false;        // an async read is outstanding
  bool writing_active_ = false; // an async write is outstanding
  bool closing_ = false;        // no more reads; close once pending_ is written
  bool closed_ = false;
  msgpack::zone zone_;          // scratch for parsing one read's frames
  std::chrono::steady_clock::time_point last_activity_;
};

}  // namespace castellan::net
