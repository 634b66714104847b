// The nemesis's network namespace and nftables cuts; see network_namespace.hpp.
#include "tests/nemesis/network_namespace.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "tests/e2e/authd_process.hpp"

namespace castellan::nemesis {
namespace {

std::string nft_path() {
  for (const char* p : {"/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"})
    if (std::filesystem::exists(p))
      return p;
  throw std::runtime_error(
      "nemesis: `nft` not found; the partitions need nftables (tools/setup.sh installs it: "
      "apt-get install -y nftables)");
}

void bring_loopback_up() {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0)
    throw std::runtime_error(std::string("nemesis: socket: ") + std::strerror(errno));
  ifreq req{};
  std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ::ioctl(fd, SIOCGIFFLAGS, &req) == 0;
  req.ifr_flags |= IFF_UP | IFF_RUNNING;
  ok = ok && ::ioctl(fd, SIOCSIFFLAGS, &req) == 0;
  int err = errno;
  ::close(fd);
  if (!ok)
    throw std::runtime_error(std::string("nemesis: cannot bring lo up in the namespace: ") + std::strerror(err));
}

}  // namespace

network_namespace::network_namespace(int members) : members_(members) {
  nft_path();  // fail before changing anything
  // The namespace of this thread (unshare moves the calling thread only).
  original_ns_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (original_ns_ < 0)
    throw std::runtime_error(std::string("nemesis: cannot open this thread's network namespace: ") +
                             std::strerror(errno));
  if (::unshare(CLONE_NEWNET) != 0) {
    int err = errno;
    ::close(original_ns_);
    throw std::runtime_error(std::string("nemesis: unshare(CLONE_NEWNET) failed (") + std::strerror(err) +
                             "): the nemesis needs root (CAP_SYS_ADMIN) to create a network namespace");
  }
  try {
    bring_loopback_up();
    // `tag`: every new connection carries its initiator's member index + 1.
    // `cut`: the partitions (cut() and heal() edit only this chain).
    std::string script = "add table inet " + std::string(table) + "\n" + "add chain inet " + table +
                         " tag { type filter hook output priority -10; policy accept; }\n" +
                         "add chain inet " + table + " cut { type filter hook output priority 0; policy accept; }\n";
    for (int i = 0; i < members_; ++i)
      script += "add rule inet " + std::string(table) + " tag ct state new meta skgid " +
                std::to_string(member_gid(i)) + " ct mark set " + std::to_string(i + 1) + "\n";
    nft(script);
    table_created_ = true;
  } catch (...) {
    ::setns(original_ns_, CLONE_NEWNET);
    ::close(original_ns_);
    throw;
  }
}

network_namespace::~network_namespace() {
  try {
    if (table_created_)
      nft("delete table inet " + std::string(table) + "\n");
  } catch (const std::exception&) {
    // The namespace goes with its last process anyway; nothing leaks to the host.
  }
  ::setns(original_ns_, CLONE_NEWNET);
  ::close(original_ns_);
}

void network_namespace::cut(int from, int to, bool symmetric) {
  auto one_way = [&](int a, int b) {
    std::string gid = std::to_string(member_gid(a));
    return "add rule inet " + std::string(table) + " cut meta skgid " + gid + " ip daddr " +
           member_address(b) + " drop\n" + "add rule inet " + table + " cut meta skgid " + gid +
           " ct mark " + std::to_string(b + 1) + " drop\n";
  };
  nft(one_way(from, to) + (symmetric ? one_way(to, from) : ""));
}

void network_namespace::heal() { nft("flush chain inet " + std::string(table) + " cut\n"); }

std::string network_namespace::ruleset() const {
  auto r = test::run_program({nft_path(), "list", "table", "inet", table}, "", std::chrono::seconds(10));
  return r.out;
}

void network_namespace::nft(const std::string& script) const {
  auto r = test::run_program({nft_path(), "-f", "-"}, script, std::chrono::seconds(10));
  if (r.exit_code != 0)
    throw std::runtime_error("nemesis: nft failed (exit " + std::to_string(r.exit_code) + "): " + r.err +
                             "\nscript:\n" + script);
}

}  // namespace castellan::nemesis
