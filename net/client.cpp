// Client over plain POSIX sockets with poll() for timeouts: no Asio needed by
// its users. Reads are drained into one buffer and framed with the same
// scan_frame the server uses, so client and server cannot disagree on framing.
#include "net/client.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace castellan::net {
namespace {

using clock = std::chrono::steady_clock;

int remaining_ms(clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

// Largest reply frame the client accepts; replies are small.
constexpr uint32_t max_reply_bytes = 16 * 1024 * 1024;

}  // namespace

client client::connect(const std::string& host, uint16_t port, milliseconds timeout,
                       const tls_options& tls) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  auto service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0)
    throw client_error("cannot resolve " + host + ": " + gai_strerror(rc));
  std::string last_error = "no address";
  auto deadline = clock::now() + timeout;
  for (auto* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
      continue;
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int polled = ::poll(&p, 1, remaining_ms(deadline));
      rc = polled == 1 ? 0 : -1;
      int err = polled == 1 ? 0 : (polled == 0 ? ETIMEDOUT : errno);
      socklen_t len = sizeof err;
      if (rc == 0)
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      errno = err;
      rc = err == 0 ? 0 : -1;
    }
    if (rc == 0) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::freeaddrinfo(res);
      if (!tls.enabled)
        return client(fd, nullptr);
      try {
        return client(fd, tls_session::open(fd, tls, host, deadline));
      } catch (const std::exception& e) {
        ::close(fd);
        throw client_error(e.what());
      }
    }
    last_error = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  throw client_error("cannot connect to " + host + ":" + service + ": " + last_error);
}

client::client(client&& other) noexcept { *this = std::move(other); }

client& client::operator=(client&& other) noexcept {
  if (this != &other) {
    close_fd();
    fd_ = std::exchange(other.fd_, -1);
    tls_ = std::move(other.tls_);
    close_reason_ = std::move(other.close_reason_);
    next_id_ = other.next_id_;
    out_ = std::move(other.out_);
    in_ = std::move(other.in_);
    ready_ = std::move(other.ready_);
    closed_ = other.closed_;
  }
  return *this;
}

client::~client() { close_fd(); }

void client::close_fd() {
  tls_.reset();
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

ssize_t client::send_some(const char* data, size_t n) {
  if (!tls_)
    return ::send(fd_, data, n, MSG_NOSIGNAL);
  ssize_t sent = tls_->send(data, n);
  if (sent < 0 && errno == EPROTO)
    close_reason_ = tls_->failure();
  return sent;
}

ssize_t client::recv_some(char* data, size_t n) {
  if (!tls_)
    return ::recv(fd_, data, n, 0);
  ssize_t got = tls_->recv(data, n);
  if (got < 0 && errno == EPROTO)
    close_reason_ = tls_->failure();
  return got;
}

// A TLS alert (a refused client certificate arrives after the handshake in
// TLS 1.3) is named: "closed" alone would hide why.
std::string client::closed_message() const {
  return close_reason_.empty() ? "server closed the connection"
                               : "server closed the connection (" + close_reason_ + ")";
}

void client::shutdown_send() { ::shutdown(fd_, SHUT_WR); }

void client::flush(milliseconds timeout) {
  if (ending_) {
    out_.clear();
    if (!half_closed_)
      ::shutdown(fd_, SHUT_WR);
    half_closed_ = true;
    throw client_error("the node is closing this connection (node shutting down); send elsewhere");
  }
  auto deadline = clock::now() + timeout;
  size_t sent = 0;
  while (sent < out_.size()) {
    ssize_t n = send_some(out_.data() + sent, out_.size() - sent);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // The server may be waiting for us to read its replies: drain while waiting.
      pollfd p{fd_, static_cast<short>((tls_ ? tls_->wanted_events() : POLLOUT) | POLLIN), 0};
      if (::poll(&p, 1, remaining_ms(deadline)) <= 0) {
        out_.erase(0, sent);  // what was sent is gone: never resend a partial frame
        throw client_error("timed out sending to server");
      }
      if (p.revents & POLLIN)
        read_some(milliseconds(0));
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    out_.erase(0, sent);
    throw client_error(close_reason_.empty() ? std::string("send failed: ") + std::strerror(errno)
                                             : "send failed: " + close_reason_);
  }
  out_.clear();
}

bool client::read_some(milliseconds timeout) {
  if (closed_)
    return false;
  if (!(tls_ && tls_->pending())) {
    // A TLS read can need to write first (its last SSL_read said so: a key
    // update's answer into a full socket buffer); waiting for input alone
    // would then wait for the node, which waits for us.
    short events = POLLIN;
    if (tls_ && tls_->wanted_events() == POLLOUT)
      events |= POLLOUT;
    pollfd p{fd_, events, 0};
    int rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (rc <= 0)
      return false;
  }
  char buf[65536];
  for (;;) {
    ssize_t n = recv_some(buf, sizeof buf);
    if (n > 0) {
      in_.append(buf, static_cast<size_t>(n));
      // TLS hands over one record at a time: read on until it would block.
      if (!tls_ && static_cast<size_t>(n) < sizeof buf)
        break;
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      closed_ = true;
      break;
    }
    if (errno != EINTR)
      break;
  }
  parse_buffered();
  return true;
}

// Frames every complete reply in in_. A stream that cannot be framed or a
// reply that is not a reply map ends the connection: the client cannot tell
// where the next reply starts, so it stops reading (closed() turns true).
void client::parse_buffered() {
  size_t pos = 0;
  std::string failure;
  for (;;) {
    auto scan = scan_frame(std::string_view(in_).substr(pos), max_reply_bytes);
    if (scan.status == frame_status::too_large) {
      failure = "server sent a frame over " + std::to_string(max_reply_bytes) + " bytes";
      break;
    }
    if (scan.status != frame_status::complete)
      break;
    try {
      ready_.push_back(parse_reply(scan.body));
      auto& r = ready_.back();
      ending_ = ending_ || (r.id == connection_level_id && r.error == "unavailable");
    } catch (const std::exception& e) {
      failure = std::string("server sent a malformed reply: ") + e.what();
      break;
    }
    pos += scan.frame_bytes;
  }
  in_.erase(0, pos);
  if (!failure.empty()) {
    in_.clear();
    closed_ = true;
    throw client_error(failure);
  }
}

std::optional<reply_view> client::receive(milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  while (ready_.empty()) {
    if (closed_)
      throw client_error(closed_message());
    if (!read_some(milliseconds(remaining_ms(deadline))) && clock::now() >= deadline)
      return std::nullopt;
  }
  auto r = std::move(ready_.front());
  ready_.pop_front();
  return r;
}

size_t client::receive_ready(std::vector<reply_view>& out) {
  if (ready_.empty() && !closed_)
    read_some(milliseconds(0));
  if (ready_.empty() && closed_)
    throw client_error(closed_message());
  size_t n = ready_.size();
  for (auto& r : ready_)
    out.push_back(std::move(r));
  ready_.clear();
  return n;
}

reply_view client::wait_for(uint64_t id, milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  for (;;) {
    for (auto i = ready_.begin(); i != ready_.end(); ++i)
      if (i->id == id || i->id == connection_level_id) {
        auto r = std::move(*i);
        ready_.erase(i);
        return r;
      }
    if (closed_)
      throw client_error(closed_message());
    if (!read_some(milliseconds(remaining_ms(deadline))) && clock::now() >= deadline)
      throw client_error("timed out waiting for reply " + std::to_string(id));
  }
}

reply_view client::ping(milliseconds timeout) { return call(ping_request{}, timeout); }

reply_view client::login(const std::string& user, const std::string& password,
                         const std::string& ip, milliseconds timeout) {
  login_request r;
  r.user = user;
  r.password = password;
  r.ip = ip;
  return call(std::move(r), timeout);
}

reply_view client::login_certificate(const std::string& user, const std::string& ip,
                                     milliseconds timeout) {
  return call(login_certificate_request{0, user, ip}, timeout);
}

reply_view client::validate(const std::string& token, milliseconds timeout) {
  return call(validate_request{0, token}, timeout);
}

reply_view client::refresh(const std::string& token, milliseconds timeout) {
  return call(refresh_request{0, token}, timeout);
}

reply_view client::logout(const std::string& token, milliseconds timeout) {
  return call(logout_request{0, token}, timeout);
}

}  // namespace castellan::net
