// Fault injection (testing.fault_injection): what `debug_crash {target}` can
// make fail, by name. The node registers each target with how to crash it;
// a session shard, after checking the caller is an admin, crashes itself for
// "session_shard" (or at its next hand-over, "session_shard_at_handover")
// and asks this registry for the rest. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace castellan::actors {

class crash_targets {
 public:
  void add(const std::string& name, std::function<void()> crash) {
    std::lock_guard<std::mutex> guard(mutex_);
    targets_[name] = std::move(crash);
  }
  bool known(const std::string& name) const {
    std::lock_guard<std::mutex> guard(mutex_);
    return name == "session_shard" || name == "session_shard_at_handover" || targets_.count(name) > 0;
  }
  // Crashes `name` (not the session_shard ones: the shard does those itself).
  void crash(const std::string& name) const {
    std::function<void()> f;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      if (auto it = targets_.find(name); it != targets_.end())
        f = it->second;
    }
    if (f)
      f();
  }
  // "session_shard, session_shard_at_handover, a, b" for error messages.
  std::string names() const {
    std::lock_guard<std::mutex> guard(mutex_);
    std::string out = "session_shard, session_shard_at_handover";
    for (auto& [name, f] : targets_)
      out += ", " + name;
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::function<void()>> targets_;
};

}  // namespace castellan::actors
