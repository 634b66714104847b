// One authd member under the nemesis: started from the thread that owns the
// run (its parent-death signal is tied to that thread), with its own group id
// so that nftables can tell its packets apart (network_namespace.hpp), and
// killed, stopped, frozen and thawed on demand. Every wait has a deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>

namespace castellan::nemesis {

class member_process {
 public:
  // `dir` holds authd.toml (written by the caller) and becomes the cwd.
  member_process(std::filesystem::path dir, gid_t gid);
  ~member_process();  // SIGKILL if still running
  member_process(const member_process&) = delete;

  // Starts authd and waits (up to `deadline`) for its ready file; throws
  // std::runtime_error with its stderr tail if it does not come up.
  void start(std::chrono::milliseconds deadline = std::chrono::milliseconds(30000));
  void kill9();
  // SIGTERM; waits up to `deadline`, then SIGKILL. Returns the exit status (-1: killed).
  int terminate(std::chrono::milliseconds deadline = std::chrono::milliseconds(20000));
  void freeze();
  void thaw();

  bool running() const { return pid_ > 0; }
  bool frozen() const { return frozen_; }
  pid_t pid() const { return pid_; }
  std::string stderr_tail(size_t bytes = 2000) const;

 private:
  int wait_exit(std::chrono::milliseconds deadline);

  std::filesystem::path dir_;
  gid_t gid_;
  pid_t pid_ = -1;
  bool frozen_ = false;
  int starts_ = 0;
};

}  // namespace castellan::nemesis
