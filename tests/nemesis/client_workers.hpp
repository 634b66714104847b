// The nemesis's clients: several worker threads, each with its own users,
// sending one request at a time over real TCP (login, owner and local validates of live and of ended sessions, refresh,
// logout, revoke_user of its own user) and recording each in the history:
// invoke, then ok, failed with a code, no answer within the reply bound, or
// the connection lost. A worker never waits longer than the reply bound.
// Most workers stay on one member (two per member): a worker that sends to
// a frozen member waits the whole bound, so if every worker picked members
// at random, one freeze would soon stall them all and nobody would use the
// rest of the cluster meanwhile, which is exactly when it matters (the
// majority logging users in and out while a member is frozen). The
// remaining workers pick a member at random for each request.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "tests/nemesis/history.hpp"

namespace castellan::nemesis {

struct workload {
  int workers = 9;
  int roaming = 3;                  // of them, the ones that pick a member per request
  int users_per_worker = 3;
  int ops_per_second = 150;         // per worker (a pause between requests)
  micros reply_bound = 5'000'000;   // the client gives up then: a `no_answer`
  uint64_t seed = 1;
};

class client_workers {
 public:
  // `holders_of` maps a token to the bitmask of members holding its session.
  client_workers(recorder& rec, workload w, std::function<uint32_t(const std::string&)> holders_of);
  ~client_workers();  // stop()
  void start();
  // Asks every worker to stop and joins them (each finishes its request in
  // flight, at most the reply bound).
  void stop();

 private:
  void run(int worker);

  recorder& rec_;
  workload w_;
  std::function<uint32_t(const std::string&)> holders_of_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

}  // namespace castellan::nemesis
