// One nemesis run from start to verdict: a network namespace, three members
// in it, client workers recording a history while the seeded schedule
// injects faults, then every member stopped, its audit log verified, and the
// checker's report. Used by the short CTest run and by tools/nemesis.sh.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/nemesis/checker.hpp"
#include "tests/nemesis/client_workers.hpp"

namespace castellan::nemesis {

struct run_options {
  uint64_t seed = 14;
  std::chrono::seconds duration{90};  // of the fault schedule (setup and checks come on top)
  workload load;
  checker_config checks;
  std::filesystem::path dir;          // members' data, the history's violations
  bool cluster_tls = false;           // TLS between members ([cluster.tls])
};

struct run_outcome {
  std::vector<std::string> schedule;  // each fault as run, with its times
  history recorded;
  std::vector<audit_result> audits;
  report verdict;
};

// Throws std::runtime_error when the run cannot be set up (no namespace, no
// nft, members that do not start): the nemesis then fails, never skips.
run_outcome run_nemesis(const run_options& options);

}  // namespace castellan::nemesis
