// What a partial frame costs the node: memory follows the bytes that arrived,
// not the length a header announces, and a node-wide budget bounds what all
// connections hold for frames not yet complete (docs/protocol.md, section 6).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "net/frame_codec.hpp"
#include "tests/e2e/authd_process.hpp"

namespace castellan::test {
namespace {

using namespace std::chrono_literals;

// The resident set of `pid` in KiB (VmRSS in /proc/<pid>/status), 0 if unknown.
long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return 0;
}

// A plain socket holding whatever bytes it sent; closed when it goes.
class raw_connection {
 public:
  explicit raw_connection(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    if (fd_ < 0)
      throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("connect: " + std::string(std::strerror(errno)));
  }
  raw_connection(raw_connection&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  ~raw_connection() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  void send_all(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0)
        throw std::runtime_error("send: " + std::string(std::strerror(errno)));
      sent += static_cast<size_t>(n);
    }
  }
  // Whatever the node sent within `wait` (or until it closed).
  std::string receive(std::chrono::milliseconds wait) {
    timeval tv{0, static_cast<suseconds_t>(wait.count() * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0)
        return out;
      out.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
};

// A header announcing `announced` body bytes, followed by `sent` of them.
std::string partial_frame(uint32_t announced, size_t sent) {
  std::string out;
  net::append_frame_header(out, announced);
  return out + std::string(sent, '\x80');
}

// 1,500 connections and the test's own sockets must fit under the fd limit.
void raise_fd_limit(rlim_t wanted) {
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_cur < wanted) {
    lim.rlim_cur = std::min(wanted, lim.rlim_max);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lim), 0);
  }
  ASSERT_GE(lim.rlim_cur, wanted) << "the hard fd limit is too low for this test";
}

// The 5-byte trick of issue 13: a header announcing 65,536 bytes and one
// byte of body, on 1,500 connections. Before, each made the node allocate
// (and touch) the whole announced body: RSS grew by ~102 MiB (11 -> 113 MiB).
// Now a connection holds its fixed 4 KiB read buffer and nothing more for it:
// ~8.5 MiB in all, the same as 1,500 idle connections (buffer, socket, timer,
// connection state). The bound, 20 MiB, is ~14 KiB per connection;
// AddressSanitizer adds redzones, shadow and a quarantine of freed memory
// to every allocation (measured +23 MiB in the debug-asan build at first,
// +32 to +34 MiB later, and +42 MiB once on a CI machine busy with other
// tests), so there it is 48 MiB: still half of the 94 MiB the announced
// lengths used to buy.
#if defined(__SANITIZE_ADDRESS__)
constexpr long growth_bound_kib = 48 * 1024;
#else
constexpr long growth_bound_kib = 20 * 1024;
#endif

TEST(PartialFrames, AnnouncedLengthDoesNotBuyMemory) {
  constexpr int connections = 1500;
  raise_fd_limit(connections + 200);
  authd_process node("", "max_connections = 2000\n");
  ASSERT_GE(node.pid(), 0);
  auto probe = node.connect();
  ASSERT_TRUE(probe.ping().ok);
  long before = rss_kib(node.pid());
  ASSERT_GT(before, 0);

  std::vector<raw_connection> held;
  held.reserve(connections);
  for (int i = 0; i < connections; ++i) {
    held.emplace_back(node.port());
    held.back().send_all(partial_frame(65536, 1));
  }
  ASSERT_TRUE(eventually([&] {
    return metric(node.monitor_port(), "castellan_connections_open") == connections + 1;
  }, 30s)) << metric(node.monitor_port(), "castellan_connections_open");
  // The node still serves a normal client meanwhile; its round trips also
  // let the I/O thread read what the held connections sent.
  auto c = node.connect();
  auto login = c.login("alice", alice_password);
  ASSERT_TRUE(login.ok) << login.error;
  EXPECT_TRUE(c.validate(login.as<net::login_reply>().token).ok);
  long after = 0;
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(probe.ping().ok);
    after = std::max(after, rss_kib(node.pid()));
    std::this_thread::sleep_for(100ms);
  }
  // Nothing was leased beyond the base buffers: the partial frames all fit.
  EXPECT_EQ(metric(node.monitor_port(), "castellan_read_buffer_bytes"), 0);
  long growth_kib = after - before;
  std::cout << "[ RSS      ] " << connections << " partial frames: " << before / 1024 << " MiB -> "
            << after / 1024 << " MiB (+" << growth_kib / 1024.0 << " MiB)\n";
  EXPECT_LT(growth_kib, growth_bound_kib) << "RSS grew by " << growth_kib << " KiB";
}

// The first frame in one whole reply of `bytes`, if there is one.
std::optional<net::reply_view> first_reply(const std::string& bytes) {
  auto scan = net::scan_frame(bytes, 1 << 20);
  if (scan.status != net::frame_status::complete)
    return std::nullopt;
  return net::parse_reply(scan.body);
}

// Partial frames that together pass server.read_buffer_budget_bytes: the
// frame that needs more than is left is refused (unavailable, id 0, and a
// close), the gauge never passes the budget, small requests are served all
// along, and what the held frames took comes back when they go.
TEST(PartialFrames, AFrameThatWouldPassTheBudgetIsRefusedAndClosed) {
  constexpr uint64_t budget = 256 * 1024;
  authd_process node("", "read_buffer_budget_bytes = " + std::to_string(budget) + "\n");
  auto c = node.connect();
  std::vector<raw_connection> held;
  // 20 frames of 60,000 bytes with 30,000 sent each: 600 KB, over twice the
  // budget even after the 4 KiB every connection has anyway.
  for (int i = 0; i < 20; ++i) {
    held.emplace_back(node.port());
    held.back().send_all(partial_frame(60000, 30000));
    ASSERT_TRUE(c.ping().ok) << "a small request is served while frames are held";
  }
  const std::string refused = "castellan_frames_refused_total{reason=\"read_budget\"}";
  ASSERT_TRUE(eventually([&] { return metric(node.monitor_port(), refused) >= 1; }, 10s));
  EXPECT_LE(metric(node.monitor_port(), "castellan_read_buffer_bytes"), budget);
  int told = 0;
  for (auto& h : held) {
    auto r = first_reply(h.receive(50ms));
    if (!r)
      continue;
    EXPECT_EQ(r->error, "unavailable");
    EXPECT_EQ(r->id, 0u);
    EXPECT_NE(r->message.find("read_buffer_budget_bytes"), std::string::npos) << r->message;
    ++told;
  }
  EXPECT_GE(told, 1);
  EXPECT_LE(told, metric(node.monitor_port(), refused));
  auto login = c.login("alice", alice_password);
  EXPECT_TRUE(login.ok) << login.error;
  held.clear();
  EXPECT_TRUE(eventually([&] {
    return metric(node.monitor_port(), "castellan_read_buffer_bytes") == 0;
  }, 10s)) << metric(node.monitor_port(), "castellan_read_buffer_bytes");
}

}  // namespace
}  // namespace castellan::test
