// The nemesis's schedule: an endless, reproducible sequence of faults drawn
// from one seed (std::mt19937_64), so a run that found something can be
// replayed step for step. One fault at a time: inject, hold, heal, let the
// cluster settle, pause.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>

#include "tests/nemesis/history.hpp"

namespace castellan::nemesis {

struct fault_step {
  fault_kind kind = fault_kind::kill9;
  uint32_t victims = 0;  // kill9/sigstop/sigterm/kill_r: the members hit
  int from = -1, to = -1;  // partitions
  std::chrono::milliseconds hold{0};  // how long the fault lasts before healing
  std::chrono::milliseconds pause{0}; // quiet time after the cluster settled
  std::string describe() const;
};

class fault_schedule {
 public:
  fault_schedule(uint64_t seed, int members) : rng_(seed), members_(members) {}
  fault_step next();

 private:
  int member() { return int(rng_() % uint64_t(members_)); }
  std::chrono::milliseconds between(int lo_ms, int hi_ms) {
    return std::chrono::milliseconds(lo_ms + int(rng_() % uint64_t(hi_ms - lo_ms + 1)));
  }

  std::mt19937_64 rng_;
  int members_;
};

}  // namespace castellan::nemesis
