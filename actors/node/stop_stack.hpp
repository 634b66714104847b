// Stop in reverse start order, by construction (Seastar's `defer` beside each
// `start`, OTP's "terminated in reversed start order"): every step of the
// node's start pushes its own stop right after it succeeds, and stopping runs
// the stack from the top. A start that fails half-way stops exactly what had
// started, in the right order.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "config/logging.hpp"

namespace castellan::actors {

class stop_stack {
 public:
  stop_stack() = default;
  stop_stack(const stop_stack&) = delete;
  stop_stack& operator=(const stop_stack&) = delete;
  ~stop_stack() { run(); }

  // `stop` undoes the step named `what`; it runs once, after every step
  // pushed later has stopped.
  void push(std::string what, std::function<void()> stop) {
    steps_.push_back({std::move(what), std::move(stop)});
  }

  // Runs every stop, last pushed first. A stop that throws is logged and the
  // rest still run: one component failing to stop must not leave the others
  // (and their threads) running. Idempotent.
  void run() {
    while (!steps_.empty()) {
      auto step = std::move(steps_.back());
      steps_.pop_back();
      try {
        step.stop();
      } catch (const std::exception& e) {
        spdlog::error("stopping {}: {}", step.what, e.what());
      }
    }
  }

  bool empty() const { return steps_.empty(); }

 private:
  struct step {
    std::string what;
    std::function<void()> stop;
  };
  std::vector<step> steps_;
};

}  // namespace castellan::actors
