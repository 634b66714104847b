// The nemesis's network: a fresh network namespace for the members and the
// test's clients, and an nftables table in it that cuts traffic between
// chosen members, symmetrically or one way.
//
// Members listen on 127.0.0.11, .12, .13 inside the namespace, but a member's
// outgoing connections leave from 127.0.0.1 (the loopback route's source),
// so addresses alone cannot tell who sent a packet. Each member therefore
// runs with its own group id (member_gid), which nftables reads from the
// sending socket (`meta skgid`), and every connection is marked with its
// initiator's index (`ct mark`). Member A -> member B is dropped when A's
// socket sends to B's address (connections A opened) or on a connection B
// opened. One way also stalls TCP handshakes both ways (the SYN-ACK is cut);
// on established connections only A's packets are dropped. The test's own
// clients (group 0) are never cut.
//
// Everything is undone by the destructor, on every path: the table is
// deleted and the calling thread returns to its original namespace; the
// namespace itself goes when its last process (the members, killed by the
// harness or by their parent-death signal) is gone. Nothing on the host changes.
#pragma once

#include <sys/types.h>

#include <string>

namespace castellan::nemesis {

class network_namespace {
 public:
  // Moves the calling thread (and every thread and process it starts
  // afterwards) into a new network namespace, brings `lo` up and creates the
  // table. Throws std::runtime_error saying what is missing (root, nft).
  explicit network_namespace(int members);
  ~network_namespace();
  network_namespace(const network_namespace&) = delete;
  network_namespace& operator=(const network_namespace&) = delete;

  // Drops what member `from` sends to member `to` (and back when symmetric).
  void cut(int from, int to, bool symmetric);
  // Removes every cut.
  void heal();
  // The ruleset as nft lists it (for reports).
  std::string ruleset() const;

  static gid_t member_gid(int member) { return gid_t(61000 + member); }
  static std::string member_address(int member) { return "127.0.0." + std::to_string(11 + member); }
  static constexpr const char* table = "castellan_nemesis";

 private:
  void nft(const std::string& script) const;

  int members_;
  int original_ns_ = -1;
  bool table_created_ = false;
};

}  // namespace castellan::nemesis
