// The C++ client library: one TCP connection to a node, requests pipelined
// (queue many, flush once, read replies as they come, in any order), every
// wait bounded by a timeout. Used by authctl, authbench and the tests.
// Not thread-safe: one client per thread, or external locking.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "net/frame_codec.hpp"
#include "net/messages.hpp"
#include "net/tls_client.hpp"

namespace castellan::net {

struct client_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class client {
 public:
  using milliseconds = std::chrono::milliseconds;

  // Connects to host:port, over TLS when `tls.enabled` (the node's
  // certificate verified, the handshake finished before this returns);
  // throws client_error on failure or after `timeout`.
  static client connect(const std::string& host, uint16_t port, milliseconds timeout,
                        const tls_options& tls = {});

  client(client&& other) noexcept;
  client& operator=(client&& other) noexcept;
  client(const client&) = delete;
  ~client();

  // -- pipelining: queue requests, flush once --------------------------------

  // Assigns the next id to `request`, encodes it into the send buffer and
  // returns the id. Nothing is sent until flush().
  template <class Request>
  uint64_t queue(Request request) {
    request.id = next_id_++;
    std::string body;
    appender out{body};
    msgpack::pack(out, request);
    append_frame_header(out_, static_cast<uint32_t>(body.size()));
    out_ += body;
    return request.id;
  }

  // Queues bytes as they are (tests: garbage, partial frames, huge prefixes).
  void queue_raw(std::string_view bytes) { out_.append(bytes); }

  // Writes the whole send buffer; throws client_error on failure or timeout.
  // Once the node said it is closing this connection (ending()), sends
  // nothing: half-closes the connection, drops the buffer and throws, so
  // that the node can finish at once (docs/protocol.md, section 6).
  void flush(milliseconds timeout = milliseconds(5000));

  // -- replies ---------------------------------------------------------------

  // The next reply, in arrival order; nothing if none came within `timeout`.
  // Throws client_error when the server closed the connection and no reply is left.
  std::optional<reply_view> receive(milliseconds timeout);

  // Replies that can be read without waiting, appended to `out`; returns how many.
  // Throws client_error when the server closed the connection and none is left.
  size_t receive_ready(std::vector<reply_view>& out);

  // Sends one request and waits for its reply; replies to other ids that
  // arrive meanwhile are kept for receive(). Throws client_error on timeout.
  template <class Request>
  reply_view call(Request request, milliseconds timeout = milliseconds(5000)) {
    auto id = queue(std::move(request));
    flush(timeout);
    return wait_for(id, timeout);
  }

  // -- conveniences ------------------------------------------------------------
  reply_view ping(milliseconds timeout = milliseconds(5000));
  reply_view login(const std::string& user, const std::string& password,
                   const std::string& ip = "", milliseconds timeout = milliseconds(10000));
  // Over mutual TLS: proves `user` with this connection's client certificate
  // (the users file maps certificates to users); the token is bound to it.
  reply_view login_certificate(const std::string& user, const std::string& ip = "",
                               milliseconds timeout = milliseconds(5000));
  reply_view validate(const std::string& token, milliseconds timeout = milliseconds(5000));
  reply_view refresh(const std::string& token, milliseconds timeout = milliseconds(5000));
  reply_view logout(const std::string& token, milliseconds timeout = milliseconds(5000));

  // True when replies are already buffered: flush() and call() read replies
  // while they wait, and those no longer show up as readable on native_handle()
  // (nor do bytes TLS has decrypted and not handed over yet).
  bool has_buffered_replies() const { return !ready_.empty() || (tls_ && tls_->pending()); }

  // True once the server closed the connection (seen by a read).
  bool closed() const { return closed_; }
  // True once the server sent `unavailable` with id 0 (it is stopping, or
  // refused the connection): replies still come, nothing more may be sent.
  bool ending() const { return ending_; }
  int native_handle() const { return fd_; }
  // Half-closes the sending side (tests: a truncated frame followed by EOF).
  void shutdown_send();

 private:
  struct appender {
    std::string& s;
    void write(const char* data, size_t n) { s.append(data, n); }
  };
  client(int fd, std::unique_ptr<tls_session> tls) : fd_(fd), tls_(std::move(tls)) {}
  ssize_t send_some(const char* data, size_t n);
  ssize_t recv_some(char* data, size_t n);
  std::string closed_message() const;
  reply_view wait_for(uint64_t id, milliseconds timeout);
  bool read_some(milliseconds timeout);  // false on timeout
  void parse_buffered();
  void close_fd();

  int fd_ = -1;
  std::unique_ptr<tls_session> tls_;
  std::string close_reason_;  // why the stream ended, when TLS said so
  uint64_t next_id_ = 1;
  std::string out_;
  std::string in_;
  std::deque<reply_view> ready_;
  bool closed_ = false;
  bool ending_ = false;
  bool half_closed_ = false;
};

}  // namespace castellan::net
