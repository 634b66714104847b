// A real cluster of authd processes on 127.0.0.1 for tests, started from the
// configs in examples/cluster-3 (the ones an operator runs by hand) with
// their ports moved to free ones and their paths into a temp directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/runtime/ring.hpp"
#include "net/member_state.hpp"
#include "net/token.hpp"
#include "tests/e2e/authd_process.hpp"

namespace castellan::test {

class test_cluster {
 public:
  // Up to node-e: node-a, node-b and node-c from examples/cluster-3, then
  // members built like node-c.
  static constexpr size_t max_members = 5;
  // Starts the first `members` of node-a ... node-e. `extra_toml` is
  // appended to every member's config (new tables only), with each
  // "{member}" in it replaced by that member's name.
  explicit test_cluster(size_t members = 3, const std::string& extra_toml = "");
  ~test_cluster();

  size_t size() const { return nodes_.size(); }
  authd_process& node(size_t i) { return *nodes_.at(i); }
  std::string name(size_t i) const { return "node-" + std::string(1, char('a' + i)); }
  uint16_t client_port(size_t i) const { return ports_.at(i).client; }
  uint16_t monitor_port(size_t i) const { return ports_.at(i).monitor; }
  uint16_t cluster_port(size_t i) const { return ports_.at(i).cluster; }

  // Starts member i for the first time (the constructor started fewer);
  // with `users_file`, it reads that users file instead of the shared one.
  void start(size_t i, const std::string& users_file = "");
  // kill -9 / SIGTERM / start again on the same directory.
  void kill_hard(size_t i);
  int stop(size_t i);
  void restart(size_t i);
  // SIGSTOP member i and wait until every one of its threads is stopped
  // (kill returns before a thread running on another CPU has stopped, and a
  // request sent right after could still be served); false if that takes
  // over 2 s.
  bool freeze(size_t i);
  // A member whose secret differs from everyone else's (started, not joined).
  // At member i's seed address the members dial it too; elsewhere (a free
  // port no member knows) only it dials them, as a new node would.
  std::unique_ptr<authd_process> start_with_wrong_secret(size_t i, bool at_seed_address = true);
  // The same, knowing the secret, with `extra_toml` instead of the
  // members' (a member whose certificate the cluster must refuse).
  std::unique_ptr<authd_process> start_stranger(size_t i, const std::string& extra_toml,
                                                bool at_seed_address = true);

  // GET /cluster on member i (empty object when it does not answer).
  nlohmann::json cluster_of(size_t i) const;
  // Member `who`'s state as member i sees it ("" when unknown).
  std::optional<net::member_state> state_seen(size_t i, const std::string& who) const;
  // Every running member sees every running member up, and holds complete
  // copies of what it holds.
  bool converged() const;

  // The session key of a token (the members share the key file).
  net::session_key key_of(const std::string& token) const;
  // Which member owns `key` while every member is up.
  std::string owner_of(const net::session_key& key) const;

  const std::filesystem::path& dir() const { return dir_; }

 private:
  struct ports {
    uint16_t client, cluster, monitor;
  };
  std::string config_for(size_t i, const std::string& secret_file,
                         const std::string& users_file = "") const;
  std::string config_for(size_t i, const std::string& secret_file, const std::string& users_file,
                         const std::string& extra_toml) const;
  std::unique_ptr<authd_process> start_outsider(size_t i, std::string config, bool at_seed_address);

  std::filesystem::path dir_;
  std::string extra_;
  std::vector<ports> ports_;
  uint16_t spare_port_ = 0;  // free for a process that must not be at a member's address
  std::vector<std::unique_ptr<authd_process>> nodes_;
  std::vector<bool> running_;
};

}  // namespace castellan::test
