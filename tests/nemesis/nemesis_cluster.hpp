// Three authd members for the nemesis, inside its network namespace: each on
// its own loopback address (127.0.0.11-13, fixed ports: the namespace is
// empty), with the cluster settings of examples/cluster-3 (R = 2, down after
// 2 s), sharing a users file of many users (so that a revoke_user touches one
// worker's sessions only), the token keys and the secret.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "net/token.hpp"
#include "tests/e2e/test_pki.hpp"
#include "tests/nemesis/member_process.hpp"

namespace castellan::nemesis {

struct cluster_layout {
  static constexpr int members = 3;
  static constexpr int replicas = 2;
  static constexpr uint16_t client_port = 7400;
  static constexpr uint16_t monitor_port = 7401;
  static constexpr uint16_t cluster_port = 7500;
  static std::string name(int i) { return "node-" + std::string(1, char('a' + i)); }
  static std::string address(int i);
};

// Users: "w<worker>u<k>" with password "pw-w<worker>u<k>".
std::string user_name(int worker, int k);
std::string password_of(const std::string& user);

class nemesis_cluster {
 public:
  // Writes configs and users into `dir` and starts every member (the first
  // alone, as it creates the key file), then waits until they all see each
  // other up. Throws std::runtime_error when that fails.
  // With `tls`, the members speak TLS between them ([cluster.tls]), each with
  // its certificate from one cluster CA made in `dir`.
  nemesis_cluster(std::filesystem::path dir, int workers, int users_per_worker, bool tls = false);
  ~nemesis_cluster();  // kills whatever still runs

  member_process& member(int i) { return *members_.at(i); }
  // Every running, unfrozen member sees every such member up, within `deadline`.
  bool wait_converged(std::chrono::milliseconds deadline);
  // Bitmask of the members holding `token`'s session while every member is up.
  uint32_t holders_of(const std::string& token) const;
  // SIGTERM every member (bounded), then `authctl audit verify` on each data dir.
  struct verify_result {
    int exit_code = -1;
    std::string output;
  };
  std::vector<verify_result> stop_and_verify();

 private:
  std::string config_for(int i) const;
  std::string cluster_tls_toml(int i) const;  // "" without TLS
  bool sees_all_up(int i) const;

  std::filesystem::path dir_;
  std::unique_ptr<test::test_pki> pki_;  // with TLS between members
  std::vector<std::unique_ptr<member_process>> members_;
  std::shared_ptr<const net::keyring> keys_;
};

}  // namespace castellan::nemesis
