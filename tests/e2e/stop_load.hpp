// Load for stopping tests: connections pipelining requests over raw sockets
// at full speed while a node stops, each knowing exactly which request ids
// it wrote, when the shutdown notice came and what was answered; and the
// contract docs/protocol.md (section 6) promises such a connection.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/in.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "net/frame_codec.hpp"
#include "tests/e2e/authd_process.hpp"

namespace castellan::test {

// What a client does once it reads the shutdown notice.
enum class on_notice {
  stop_and_half_close,  // what docs/protocol.md recommends
  stop_writing,         // stops, but leaves its sending side open
  keep_writing,         // ignores it: the node must still end the connection
};

// What one connection saw. Ids 1..written were written whole.
struct outcome {
  uint64_t written = 0;
  uint64_t written_at_notice = 0;  // ids written when the notice was read
  int notices = 0;
  int logins_unavailable = 0;  // before the notice, where allowed (a cluster's writes)
  std::map<uint64_t, std::string> answers;  // id -> "" (ok) or the error code
  std::vector<std::string> problems;        // anything the contract rules out
  bool eof = false;                         // the node closed in order (FIN)
  std::string ended;                        // how it ended otherwise
};

// One connection pipelining requests (a login every 512th, validates
// otherwise) with up to `window` unanswered, until the node closes it.
class pipeliner {
 public:
  // `writes_may_fail`: a login may be answered `unavailable` before the
  // notice too (in a cluster, when a replica does not confirm it).
  pipeliner(uint16_t port, std::string token, on_notice mode, bool writes_may_fail = false)
      : token_(std::move(token)), mode_(mode), writes_may_fail_(writes_may_fail) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      out_.ended = "connect failed";
    ::fcntl(fd_, F_SETFL, O_NONBLOCK);
  }
  ~pipeliner() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  // Runs until the node ends the connection (or 20 s pass).
  void run() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (out_.ended.empty() && !out_.eof && std::chrono::steady_clock::now() < deadline) {
      refill();
      pollfd p{fd_, static_cast<short>(POLLIN | (sent_ < stream_.size() ? POLLOUT : 0)), 0};
      if (::poll(&p, 1, 50) < 0)
        break;
      write_some();
      read_some();
    }
    if (out_.ended.empty() && !out_.eof)
      out_.ended = "still open after 20 s";
    ::close(fd_);  // as a client does once it read EOF
    fd_ = -1;
  }

  uint64_t answered() const { return answered_.load(); }
  const outcome& result() const { return out_; }

 private:
  void refill() {
    bool stopped = out_.notices > 0 && mode_ != on_notice::keep_writing;
    if (stopped || stream_.size() - sent_ >= 64 * 1024 || next_id_ - 1 - answered_ >= window)
      return;
    stream_.erase(0, sent_);
    base_ += sent_;
    sent_ = 0;
    for (int i = 0; i < 64; ++i) {
      uint64_t id = next_id_++;
      std::string body;
      appender a{body};
      if (is_login(id))
        msgpack::pack(a, net::login_request{id, "alice", alice_password, ""});
      else
        msgpack::pack(a, net::validate_request{id, token_});
      net::append_frame_header(stream_, static_cast<uint32_t>(body.size()));
      stream_ += body;
      ends_.push_back(base_ + stream_.size());
    }
  }

  void write_some() {
    if (sent_ == stream_.size() || out_.eof)
      return;
    ssize_t n = ::send(fd_, stream_.data() + sent_, stream_.size() - sent_, MSG_NOSIGNAL);
    if (n > 0)
      sent_ += static_cast<size_t>(n);
    while (out_.written < ends_.size() && ends_[out_.written] <= base_ + sent_)
      ++out_.written;
    if (out_.notices > 0 && mode_ != on_notice::keep_writing)
      finish_frame_then_stop();
  }

  // After the notice: the frame being written is completed (a torn frame is
  // malformed), nothing after it is sent.
  void finish_frame_then_stop() {
    uint64_t at = base_ + sent_;
    uint64_t start = out_.written == 0 ? 0 : ends_[out_.written - 1];  // of the next frame
    bool torn = out_.written < ends_.size() && start < at;
    stream_.resize(torn ? ends_[out_.written] - base_ : sent_);
    if (sent_ == stream_.size() && mode_ == on_notice::stop_and_half_close && !half_closed_) {
      ::shutdown(fd_, SHUT_WR);
      half_closed_ = true;
    }
  }

  void read_some() {
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0) {
      out_.eof = true;
      return;
    }
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        out_.ended = std::string("read failed: ") + std::strerror(errno);
      return;
    }
    in_.append(buf, static_cast<size_t>(n));
    size_t pos = 0;
    for (;;) {
      auto scan = net::scan_frame({in_.data() + pos, in_.size() - pos}, 1 << 20);
      if (scan.status != net::frame_status::complete)
        break;
      pos += scan.frame_bytes;
      take(net::parse_reply(scan.body));
    }
    in_.erase(0, pos);
  }

  void take(const net::reply_view& r) {
    if (r.id == net::connection_level_id) {
      if (r.error != "unavailable" || r.message != "node shutting down")
        out_.problems.push_back("connection-level " + r.error + ": " + r.message);
      if (out_.notices++ == 0) {
        out_.written_at_notice = out_.written;
        write_some();  // stop (or not) at once
      }
      return;
    }
    if (r.id == 0 || r.id >= next_id_)
      out_.problems.push_back("reply to an id never sent: " + std::to_string(r.id));
    else if (!out_.answers.emplace(r.id, r.ok ? "" : r.error).second)
      out_.problems.push_back("two replies to id " + std::to_string(r.id));
    // Before the notice everything is served; after it a refusal is allowed.
    bool refusal = r.error == "unavailable" && out_.notices > 0;
    if (!refusal && writes_may_fail_ && r.error == "unavailable" && is_login(r.id)) {
      ++out_.logins_unavailable;
      refusal = true;
    }
    if (!r.ok && !refusal)
      out_.problems.push_back("id " + std::to_string(r.id) + ": " + r.error + " " + r.message);
    ++answered_;
  }

  static bool is_login(uint64_t id) { return id % 512 == 0; }

  struct appender {
    std::string& s;
    void write(const char* data, size_t n) { s.append(data, n); }
  };
  static constexpr uint64_t window = 2048;  // below max_inflight_per_connection: the node keeps reading

  int fd_ = -1;
  std::string token_;
  on_notice mode_;
  bool writes_may_fail_ = false;
  std::string stream_;           // bytes to send; [0, sent_) are sent
  size_t sent_ = 0;
  uint64_t base_ = 0;            // stream offset of stream_[0]
  std::vector<uint64_t> ends_;   // ends_[id - 1]: stream offset where that request ends
  uint64_t next_id_ = 1;
  std::atomic<uint64_t> answered_{0};
  std::string in_;
  bool half_closed_ = false;
  outcome out_;
};

// What the contract promises a connection, given how its client behaved.
inline void expect_contract(const outcome& o, on_notice mode, const std::string& who) {
  EXPECT_TRUE(o.problems.empty()) << who << ": " << o.problems.front();
  EXPECT_EQ(o.notices, 1) << who;
  EXPECT_TRUE(o.eof) << who << " ended: " << o.ended;
  // The node reads in order and answers everything it read before its EOF,
  // so the ids answered are 1..n without a hole: what it did not answer it
  // never read, hence never processed.
  uint64_t n = 0;
  while (o.answers.count(n + 1))
    ++n;
  EXPECT_EQ(n, o.answers.size()) << who << ": a request the node read went unanswered";
  // A client that stops at the notice hears about everything it wrote; one
  // that keeps writing, at least about everything it wrote before it read
  // the notice.
  uint64_t promised = mode == on_notice::keep_writing ? o.written_at_notice : o.written;
  EXPECT_GE(n, promised) << who << ": " << o.written << " requests written, "
                         << o.written_at_notice << " before the notice";
}

}  // namespace castellan::test
